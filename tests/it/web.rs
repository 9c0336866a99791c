//! The web application over real HTTP, on both databases: every route as every role
//! (and anonymous) against the route table, CSRF, escaping, limits, error pages,
//! login, logout and API tokens.

use std::collections::BTreeMap;

use biaozhun::db::accounts::{Actor, NewUser, Role};
use biaozhun::web::{self, Access, ROUTES, ServeConfig};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) state: web::AppState,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn start(database_url: Option<String>) -> Server {
    start_monitored(database_url, Default::default()).await
}

async fn start_monitored(
    database_url: Option<String>,
    monitor: biaozhun::monitor::service::MonitorConfig,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        data: dir.path().join("data"),
        standards: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url,
        admin_password: Some("admin-password-1".into()),
        demo: false,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        monitor,
    };
    let (state, setup) = web::prepare(&cfg).await.unwrap();
    assert_eq!(setup.admin_password.as_deref(), Some("admin-password-1"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve(state.clone(), listener));
    Server {
        base,
        state,
        _dir: dir,
    }
}

/// Send and read the body, failing the test on a transport error.
pub(crate) trait Fetch {
    async fn body_text(self) -> String;
    async fn body_json(self) -> serde_json::Value;
}

impl Fetch for reqwest::RequestBuilder {
    async fn body_text(self) -> String {
        self.send().await.unwrap().text().await.unwrap()
    }
    async fn body_json(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_string())
        })
}

/// Logs in through the form (double-submit CSRF), returns the session cookie.
async fn login(s: &Server, user: &str, password: &str) -> reqwest::Response {
    let c = client();
    let form = c.get(format!("{}/login", s.base)).send().await.unwrap();
    let csrf = set_cookie(&form, "bz_login_csrf").expect("login form sets its CSRF cookie");
    c.post(format!("{}/login", s.base))
        .header("cookie", format!("bz_login_csrf={csrf}"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", csrf.as_str()),
            ("next", "/standards"),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn session_for(s: &Server, role: Role) -> (String, String) {
    let name = format!("u-{}", role.as_str());
    let db = &s.state.db;
    let user = match db.user_by_name(&name).await.unwrap() {
        Some(u) => u,
        None => db
            .create_user(
                &NewUser {
                    username: &name,
                    display_name: role.label(),
                    password: "a long password",
                    role,
                    department: "",
                },
                &Actor::default(),
            )
            .await
            .unwrap(),
    };
    let (token, session) = db.create_session(&user, "127.0.0.1").await.unwrap();
    (token, session.csrf)
}

fn test_alert(case: &str, rule: &str) -> biaozhun::db::live::NewAlert {
    biaozhun::db::live::NewAlert {
        kind: "violation".into(),
        source: "workflow".into(),
        subject: case.into(),
        okey: format!("{rule}@e1"),
        rule_id: rule.into(),
        title: "下单后20 min内首次响应".into(),
        clauses: vec!["T/ZTAC 001.2—2023#9.1".into()],
        severity: "major".into(),
        detail: format!("订单 {case}：下单 2024-05-01 10:00:00"),
        outlet: Some("O03".into()),
        town: Some("锦北街道".into()),
        at_us: Some(0),
        due_us: None,
    }
}

async fn exercise(s: Server) {
    let c = client();
    // Login through the form, wrong then right.
    let wrong = login(&s, "admin", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::OK);
    assert!(wrong.text().await.unwrap().contains("用户名或密码错误"));
    let ok = login(&s, "admin", "admin-password-1").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/standards");
    let cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("bz_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(attr), "{cookie}");
    }

    // The role matrix: every route, every role and anonymous.
    let mut sessions = BTreeMap::new();
    for role in Role::ALL {
        sessions.insert(role, session_for(&s, role).await);
    }
    // An employee's submission, so that /submissions/1 exists for the matrix.
    let employee = s
        .state
        .db
        .user_by_name("u-employee")
        .await
        .unwrap()
        .unwrap();
    let first = s
        .state
        .db
        .create_submission(
            &biaozhun::db::submissions::NewSubmission {
                title: "矩阵测试",
                code: "Q/BZ 900—2026",
                kind: "new",
                base_code: "",
                department: "",
                category: "服务提供标准/服务规范",
                text: "x",
            },
            &employee,
        )
        .await
        .unwrap();
    assert_eq!(first.id, 1);
    // An audit with a finding and an evidence file, for /audits/1/… and /evidence/….
    let auditor = s.state.db.user_by_name("u-auditor").await.unwrap().unwrap();
    let audit = s
        .state
        .db
        .create_audit(
            &biaozhun::db::audits::NewAudit {
                name: "矩阵测试审核",
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
    assert_eq!(audit.id, 1);
    let finding = s
        .state
        .db
        .add_finding(
            1,
            "T/ZTAC 002—2023#4.2",
            "minor",
            "矩阵",
            "",
            "",
            "",
            "",
            &auditor,
        )
        .await
        .unwrap();
    assert_eq!(finding, 1);
    // Alert 1, for the monitoring routes.
    let applied = s
        .state
        .db
        .live_commit(&biaozhun::db::live::LiveCommit {
            raise: vec![test_alert("M1", "first-response-20min")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(applied.raised, vec![1]);
    let stored = s
        .state
        .evidence
        .put(b"%PDF-1.4 role matrix evidence", "matrix.pdf")
        .unwrap();
    assert!(
        ROUTES
            .iter()
            .any(|r| r.example == format!("/evidence/{}", stored.sha256)),
        "the /evidence example names this file"
    );
    // An acceptance review 1 with u-expert on its panel, for /acceptance/reviews/1.
    let expert_user = s.state.db.user_by_name("u-expert").await.unwrap().unwrap();
    let project = s
        .state
        .db
        .project_create(
            &biaozhun::db::acceptance::NewProject {
                name: "矩阵测试项目".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let review = s
        .state
        .db
        .review_create(
            project,
            "矩阵测试评审",
            &std::fs::read_to_string(format!(
                "{}/acceptance/scoring-table.yaml",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
            "",
            &[(expert_user.id, true)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(review, 1);
    s.state
        .db
        .evidence_add(project, "其他", "matrix.pdf", &stored, "", None)
        .await
        .unwrap();
    // A public survey link `x` for /s/{token} (survey 1 is the repository's).
    assert_eq!(
        s.state.db.survey(1).await.unwrap().unwrap().key,
        "customer-satisfaction"
    );
    sqlx::query("INSERT INTO survey_links (token, survey_key, open, label, created_at) VALUES ('x', 'customer-satisfaction', 1, '', 0)")
        .execute(&s.state.db.pool)
        .await
        .unwrap();
    let mut checked = 0;
    for route in ROUTES {
        for role in std::iter::once(None).chain(Role::ALL.into_iter().map(Some)) {
            let url = format!("{}{}", s.base, route.example);
            let mut req = match route.method {
                "GET" => c.get(&url),
                "POST" => c.post(&url).form(&[("csrf", "wrong")]),
                "PUT" => c.put(&url).form(&[("csrf", "wrong")]),
                m => panic!("method {m} not covered by the test"),
            };
            if let Some(r) = role {
                req = req.header("cookie", format!("bz_session={}", sessions[&r].0));
            }
            let status = req.send().await.unwrap().status();
            let allowed = route.access.allows(role);
            let api = route.path.starts_with("/api/");
            let expected_denial = match (role, api) {
                (None, false) => StatusCode::SEE_OTHER,
                (None, true) => StatusCode::UNAUTHORIZED,
                (Some(_), _) => StatusCode::FORBIDDEN,
            };
            if allowed {
                let refused = matches!(
                    status,
                    StatusCode::UNAUTHORIZED
                        | StatusCode::FORBIDDEN
                        | StatusCode::NOT_FOUND
                        | StatusCode::METHOD_NOT_ALLOWED
                        | StatusCode::INTERNAL_SERVER_ERROR
                );
                // Only the login form answers a bad POST with a redirect-free page;
                // a redirect anywhere else means "go and log in".
                let sent_to_login = status == StatusCode::SEE_OTHER && route.path != "/login";
                assert!(
                    !refused && !sent_to_login,
                    "{} {} as {role:?}: {status}",
                    route.method,
                    route.path
                );
                if route.method == "POST"
                    && route.path != "/login"
                    && route.path != "/s/{token}"
                    && !route.path.starts_with("/api/")
                {
                    assert_eq!(
                        status,
                        StatusCode::BAD_REQUEST,
                        "{} as {role:?}: a wrong CSRF token is refused",
                        route.path
                    );
                }
            } else {
                assert_eq!(
                    status, expected_denial,
                    "{} {} as {role:?}",
                    route.method, route.path
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * 7);
    assert!(ROUTES.iter().any(|r| r.access == Access::Public));

    let (admin_token, admin_csrf) = session_for(&s, Role::Admin).await;
    let as_admin =
        |req: reqwest::RequestBuilder| req.header("cookie", format!("bz_session={admin_token}"));

    // Pages show what they should; user text is escaped.
    let page = as_admin(c.get(format!("{}/clauses/t-ztac-001.2-2023_9.1", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("每个订单应在下单后20 min内得到首次响应"),
        "clause text"
    );
    assert!(
        html.contains("prov requirement"),
        "provisions coloured by type"
    );
    let xss = as_admin(
        c.get(format!("{}/search", s.base))
            .query(&[("q", "<script>alert(1)</script> 安心码")]),
    )
    .send()
    .await
    .unwrap();
    let html = xss.text().await.unwrap();
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "the query is rendered inert"
    );
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "the query is shown escaped"
    );
    let search = as_admin(
        c.get(format!("{}/search", s.base))
            .query(&[("q", "安心码 派单")]),
    )
    .body_text()
    .await;
    assert!(search.contains("<mark>"), "hits highlight the words");

    // History and clause-level diff after a revision is published.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("standards/t-ztac-001.2-2023.md");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("每个订单应在下单后20 min内得到首次响应"));
    s.state
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
    // Pages follow the library: the new text shows once HEAD is noticed.
    assert!(s.state.refresh().unwrap(), "HEAD moved");
    let clause = as_admin(c.get(format!("{}/clauses/t-ztac-001.2-2023_9.1", s.base)))
        .body_text()
        .await;
    assert!(
        clause.contains("下单后15 min内得到首次响应"),
        "the clause page shows the published text"
    );
    let hits: serde_json::Value = as_admin(
        c.get(format!("{}/api/v1/search", s.base))
            .query(&[("q", "\"15 min内得到首次响应\"")]),
    )
    .body_json()
    .await;
    assert!(
        hits["hits"].as_array().is_some_and(|h| !h.is_empty()),
        "the index was synced: {hits}"
    );
    let history = as_admin(c.get(format!("{}/standards/t-ztac-001.2-2023/history", s.base)))
        .body_text()
        .await;
    assert!(
        history.contains("首次响应时限缩短为15 min") && history.contains("王喆"),
        "history lists the revision: {history}"
    );
    assert!(history.contains("与上一版比较"));
    let diff = as_admin(c.get(format!("{}/diff", s.base)).query(&[
        ("a", "t-ztac-001.2-2023"),
        ("ra", "HEAD~1"),
        ("rb", "HEAD"),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(diff.status(), StatusCode::OK);
    let diff = diff.text().await.unwrap();
    assert!(
        diff.contains("<del>20</del>") && diff.contains("<ins>15</ins>"),
        "inline diff marks the change"
    );
    let api: serde_json::Value = as_admin(
        c.get(format!("{}/api/v1/diff", s.base))
            .query(&[("a", "t-ztac-001.2-2023"), ("ra", "HEAD~1")]),
    )
    .body_json()
    .await;
    assert_eq!(api["changes"].as_array().map(Vec::len), Some(1), "{api}");
    let bad = as_admin(
        c.get(format!("{}/diff", s.base))
            .query(&[("a", "t-ztac-001.2-2023"), ("ra", "no-such-rev")]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let system = as_admin(c.get(format!("{}/system", s.base)))
        .body_text()
        .await;
    assert!(system.contains("服务提供标准"), "the GB/T 24421 tree");

    // Unknown pages: a Chinese 404 page; oversized bodies: 413.
    let missing = c
        .get(format!("{}/no/such/page", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("页面不存在"));
    let missing = as_admin(c.get(format!("{}/standards/no-such-standard", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Oversized bodies are refused from the announced length, before being read (a
    // raw request, so the client is not still writing when the server answers).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = s.base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            web::MAX_BODY + 1
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }

    // Admin creates a user through the form; it lands in the activity log.
    let created = as_admin(c.post(format!("{}/admin/users", s.base)))
        .form(&[
            ("csrf", admin_csrf.as_str()),
            ("username", "zhangsan"),
            ("display_name", "张三"),
            ("password", "zhangsan-password"),
            ("role", "employee"),
            ("department", "家政服务部"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    assert!(
        created
            .text()
            .await
            .unwrap()
            .contains("已创建用户 zhangsan")
    );
    let log = s.state.db.activity(5).await.unwrap();
    assert_eq!(
        (log[0].action.as_str(), log[0].target.as_str()),
        ("user.create", "zhangsan")
    );
    assert_eq!(log[0].username, "u-admin");

    // API token for machine clients.
    let admin = s.state.db.user_by_name("u-admin").await.unwrap().unwrap();
    let token = s
        .state
        .db
        .create_api_token(&admin, "ci", &Actor::default())
        .await
        .unwrap();
    let api = c
        .get(format!("{}/api/v1/search", s.base))
        .query(&[("q", "安心码")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let v: serde_json::Value = api.json().await.unwrap();
    assert!(v["hits"].as_array().is_some_and(|h| !h.is_empty()));
    let bad = c
        .get(format!("{}/api/v1/standards", s.base))
        .bearer_auth("bzt_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);

    // Any user creates and revokes their own API token on the account page.
    let (viewer_token, viewer_csrf) = session_for(&s, Role::Viewer).await;
    let as_viewer =
        |req: reqwest::RequestBuilder| req.header("cookie", format!("bz_session={viewer_token}"));
    let page = as_viewer(c.post(format!("{}/account/tokens", s.base)))
        .form(&[("csrf", viewer_csrf.as_str()), ("name", "平台对接")])
        .body_text()
        .await;
    let token = page
        .split("<code class=\"token\">")
        .nth(1)
        .and_then(|x| x.split('<').next())
        .expect("the new token is shown once")
        .to_string();
    assert!(token.starts_with("bzt_"));
    let ok = c
        .get(format!("{}/api/v1/standards", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let viewer = s.state.db.user_by_name("u-viewer").await.unwrap().unwrap();
    let id = s.state.db.api_tokens(viewer.id).await.unwrap()[0].id;
    let revoked = as_viewer(c.post(format!("{}/account/tokens/{id}/revoke", s.base)))
        .form(&[("csrf", viewer_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let gone = c
        .get(format!("{}/api/v1/standards", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    // Someone else's token cannot be revoked.
    let other = as_viewer(c.post(format!("{}/account/tokens/{}/revoke", s.base, id + 1000)))
        .form(&[("csrf", viewer_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    // The OpenAPI document lists exactly the API routes of the table.
    let doc: serde_json::Value = c
        .get(format!("{}/api/v1/openapi.json", s.base))
        .body_json()
        .await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/"))
            .count()
    );
    assert!(doc["paths"]["/api/v1/search"]["get"]["parameters"][0]["name"] == "q");

    // Logout needs the CSRF token and ends the session.
    let out = as_admin(c.post(format!("{}/logout", s.base)))
        .form(&[("csrf", admin_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = as_admin(c.get(format!("{}/standards", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session is gone");

    // The standards list filters by GB/T 24421 node.
    let all = as_viewer(c.get(format!("{}/standards", s.base)))
        .body_text()
        .await;
    let none = as_viewer(
        c.get(format!("{}/standards", s.base))
            .query(&[("category", "岗位工作标准")]),
    )
    .body_text()
    .await;
    assert!(all.matches("<tr><td>").count() > none.matches("<tr><td>").count());

    // An internal error shows a 500 page and keeps the details in the log.
    sqlx::query("DROP TABLE api_tokens")
        .execute(&s.state.db.pool)
        .await
        .unwrap();
    let broken = as_viewer(c.get(format!("{}/account", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = broken.text().await.unwrap();
    assert!(body.contains("服务器内部错误"), "{body}");
    assert!(
        !body.contains("api_tokens") && !body.to_lowercase().contains("sql"),
        "no details leak: {body}"
    );

    // The submission path: draft with a lint error, fix, submit; the reviewer
    // comments on a clause and asks for changes; the author revises; approval
    // publishes into the library under the approver's name.
    let (emp_token, emp_csrf) = session_for(&s, Role::Employee).await;
    let (rev_token, rev_csrf) = session_for(&s, Role::Reviewer).await;
    let as_emp =
        |req: reqwest::RequestBuilder| req.header("cookie", format!("bz_session={emp_token}"));
    let as_rev =
        |req: reqwest::RequestBuilder| req.header("cookie", format!("bz_session={rev_token}"));
    let created = as_emp(c.post(format!("{}/submissions", s.base)))
        .form(&[
            ("csrf", emp_csrf.as_str()),
            ("title", "家政服务人员上门服务规范"),
            ("category", "服务提供标准/服务提供规范"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let url = format!(
        "{}{}",
        s.base,
        created.headers()["location"].to_str().unwrap()
    );
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let sub = s.state.db.submission(id).await.unwrap().unwrap();
    assert!(sub.code.starts_with("Q/BZ "), "{}", sub.code);
    let good = format!(
        "---\ncode: {}\ntitle: 家政服务人员上门服务规范\nkind: enterprise\nstatus: current\ncategory: 服务提供标准/服务提供规范\nsource: official\n---\n\n## 1 范围\n\n本文件规定了家政服务人员上门服务的要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n## 4 上门要求\n\n家政服务人员应在预约时间前10 min到达。\n",
        sub.code
    );
    let bad = good.replace(&format!("code: {}", sub.code), "code: Q/XX 1—2026");
    let edit = |text: String, version: i64| {
        as_emp(c.post(format!("{url}/edit"))).form(&[
            ("csrf", emp_csrf.clone()),
            ("text", text),
            ("version", version.to_string()),
        ])
    };
    assert_eq!(
        edit(bad, 1).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let refused = as_emp(c.post(format!("{url}/action")))
        .form(&[("csrf", emp_csrf.as_str()), ("action", "submit")])
        .body_text()
        .await;
    assert!(
        refused.contains("修正后才能提交") && refused.contains("系统分配"),
        "lint errors block submission"
    );
    // A stale tab's save is refused and says so.
    let stale = edit(good.clone(), 1).body_text().await;
    assert!(stale.contains("已被他人修改"), "optimistic concurrency");
    assert_eq!(
        edit(good.clone(), 2).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let act = |who: &dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
               csrf: &str,
               action: &str,
               comment: &str| {
        who(c.post(format!("{url}/action"))).form(&[
            ("csrf", csrf.to_string()),
            ("action", action.to_string()),
            ("comment", comment.to_string()),
        ])
    };
    assert_eq!(
        act(&as_emp, &emp_csrf, "submit", "")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    let queue = as_rev(c.get(format!("{}/submissions", s.base)))
        .body_text()
        .await;
    assert!(
        queue.contains("1 份提交等待审核") && queue.contains("class=\"badge\""),
        "the reviewer is told"
    );
    assert_eq!(
        act(&as_rev, &rev_csrf, "start_review", "")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    let commented = as_rev(c.post(format!("{url}/comments")))
        .form(&[
            ("csrf", rev_csrf.as_str()),
            ("clause", "4"),
            ("body", "请写明迟到时的处理"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(commented.status(), StatusCode::SEE_OTHER);
    let no_comment = act(&as_rev, &rev_csrf, "request_changes", "")
        .body_text()
        .await;
    assert!(no_comment.contains("需要填写意见"));
    act(&as_rev, &rev_csrf, "request_changes", "见第4条意见")
        .send()
        .await
        .unwrap();
    let mine = as_emp(c.get(format!("{}/submissions", s.base)))
        .body_text()
        .await;
    assert!(mine.contains("你的 1 份提交需要修改"), "the author is told");
    let revised = good.replace(
        "到达。\n",
        "到达。\n\n预计迟到的，家政服务人员应提前30 min告知客户。\n",
    );
    let version = s.state.db.submission(id).await.unwrap().unwrap().version;
    assert_eq!(
        edit(revised, version).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    act(&as_emp, &emp_csrf, "resubmit", "")
        .send()
        .await
        .unwrap();
    act(&as_rev, &rev_csrf, "start_review", "")
        .send()
        .await
        .unwrap();
    // The author cannot approve; the reviewer can, and that publishes.
    let own = act(&as_emp, &emp_csrf, "approve", "").body_text().await;
    assert!(
        own.contains("标准化审核员") || own.contains("提交人不能"),
        "{own}"
    );
    // Two reviewers approve at the same moment: it is published once.
    let (adm_token, adm_csrf) = session_for(&s, Role::Admin).await;
    let (a, b) = tokio::join!(
        act(&as_rev, &rev_csrf, "approve", "").send(),
        c.post(format!("{url}/action"))
            .header("cookie", format!("bz_session={adm_token}"))
            .form(&[
                ("csrf", adm_csrf.as_str()),
                ("action", "approve"),
                ("comment", "")
            ])
            .send()
    );
    assert!(a.unwrap().status().is_redirection() || b.unwrap().status().is_redirection());
    let done = s.state.db.submission(id).await.unwrap().unwrap();
    assert_eq!(
        done.state,
        biaozhun::submission::State::Published,
        "{}",
        done.publish_error
    );
    let page = as_rev(c.get(&url)).body_text().await;
    assert!(
        page.contains("请写明迟到时的处理") && page.contains("第 4 条"),
        "the clause comment is shown"
    );
    let found: serde_json::Value = as_emp(
        c.get(format!("{}/api/v1/search", s.base))
            .query(&[("q", "\"提前30 min告知客户\"")]),
    )
    .body_json()
    .await;
    assert!(
        found["hits"].as_array().is_some_and(|h| !h.is_empty()),
        "the published standard is searchable: {found}"
    );
    let slug = biaozhun::standard::slug_of_id(&done.code);
    let history: serde_json::Value =
        as_emp(c.get(format!("{}/api/v1/standards/{slug}/history", s.base)))
            .body_json()
            .await;
    let revisions = history["history"].as_array().unwrap();
    assert_eq!(revisions.len(), 1, "published exactly once: {history}");
    // A revision of the published standard: the reviewer sees its clause diff.
    assert!(s.state.refresh().is_ok());
    let std_page = as_emp(c.get(format!("{}/standards/{slug}", s.base)))
        .body_text()
        .await;
    assert!(
        std_page.contains("提交修订"),
        "enterprise standards can be revised"
    );
    let revise = as_emp(c.post(format!("{}/submissions/revise", s.base)))
        .form(&[("csrf", emp_csrf.as_str()), ("base", slug.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revise.status(), StatusCode::SEE_OTHER);
    let rev_url = format!(
        "{}{}",
        s.base,
        revise.headers()["location"].to_str().unwrap()
    );
    let rev_id: i64 = rev_url.rsplit('/').next().unwrap().parse().unwrap();
    let draft = s.state.db.submission(rev_id).await.unwrap().unwrap();
    assert_eq!(
        (draft.kind.as_str(), draft.base_code.as_str()),
        ("revision", done.code.as_str())
    );
    assert!(
        draft.text.contains("提前30 min告知客户"),
        "starts from the published text"
    );
    let changed = draft.text.replace("预约时间前10 min", "预约时间前15 min");
    as_emp(c.post(format!("{rev_url}/edit")))
        .form(&[
            ("csrf", emp_csrf.clone()),
            ("text", changed),
            ("version", draft.version.to_string()),
        ])
        .send()
        .await
        .unwrap();
    let review = as_rev(c.get(&rev_url)).body_text().await;
    assert!(
        review.contains("前1<del>0</del><ins>5</ins> min"),
        "the clause diff against the published edition: {}",
        review.split("<h2>").nth(2).unwrap_or("")
    );
    let author = revisions[0]["revision"]["author"].as_str().unwrap();
    assert!(
        ["标准化审核员", "系统管理员"].contains(&author),
        "the approver is the git author: {history}"
    );

    // Standards news: reviewers post, the home page shows the reader's department's
    // items and company-wide ones.
    for (title, dept) in [("新版标准体系表发布", ""), ("财务部报销标准修订", "财务部")]
    {
        let posted = as_rev(c.post(format!("{}/news", s.base)))
            .form(&[
                ("csrf", rev_csrf.as_str()),
                ("title", title),
                ("body", "详见标准库。"),
                ("department", dept),
            ])
            .body_text()
            .await;
        assert!(posted.contains("已发布"), "{posted}");
    }
    let home = as_emp(c.get(format!("{}/", s.base))).body_text().await;
    assert!(
        home.contains("新版标准体系表发布") && !home.contains("财务部报销标准修订"),
        "department news only"
    );
    let refused = as_emp(c.post(format!("{}/news", s.base)))
        .form(&[("csrf", emp_csrf.as_str()), ("title", "x"), ("body", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "only reviewers post news"
    );

    // Live lint for the editor: the same diagnostics as `biaozhun check`, by line.
    let lint: serde_json::Value = as_emp(c.post(format!("{}/api/v1/lint", s.base)))
        .json(
            &serde_json::json!({ "text": "---\ncode: Q/BZ 1—2026\n---\n", "code": "Q/BZ 1—2026" }),
        )
        .body_json()
        .await;
    let diags = lint["diagnostics"].as_array().unwrap();
    assert!(
        diags
            .iter()
            .any(|d| d["severity"] == "error" && d["line"].as_u64().is_some()),
        "{lint}"
    );
    let js = c
        .get(format!("{}/static/app.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );

    // Health.
    let h: serde_json::Value = c.get(format!("{}/healthz", s.base)).body_json().await;
    assert_eq!(h["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_on_sqlite() {
    exercise(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    exercise(start(Some(url)).await).await;
}

#[tokio::test]
async fn first_start_is_zero_config_and_later_starts_reuse_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        data: dir.path().join("data"),
        standards: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url: None,
        admin_password: None,
        demo: true,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        monitor: Default::default(),
    };
    let (state, setup) = web::prepare(&cfg).await.unwrap();
    assert!(setup.library_created);
    let password = setup
        .admin_password
        .expect("a one-time admin password is printed");
    assert!(password.len() >= 10);
    assert_eq!(
        setup.demo_users.len(),
        Role::ALL.len(),
        "one demo account per role"
    );
    assert!(matches!(
        state
            .db
            .login("admin", &password, "127.0.0.1")
            .await
            .unwrap(),
        biaozhun::db::accounts::Login::Ok(_)
    ));
    assert!(
        state.with_search(|s| s.doc_count()) > 500,
        "the index is built"
    );
    assert!(cfg.data.join("biaozhun.db").exists() && cfg.data.join("library/.git").exists());
    // The demo has a platform and an audit already run on it.
    assert!(cfg.data.join("platform/workers.csv").exists());
    assert!(cfg.data.join("platform/orders.csv").exists());
    // Last year's, closed (for trends and comparison), and this year's, newest first.
    let audits = state.db.audits().await.unwrap();
    assert_eq!(audits.len(), 2);
    assert_eq!(
        (audits[0].state.as_str(), audits[1].state.as_str()),
        ("open", "closed")
    );
    assert_eq!(audits[0].snapshot.len(), 64, "the run recorded its data");
    let findings = state.db.findings(audits[0].id).await.unwrap();
    assert_eq!(findings.len(), 3, "an auditor's findings");
    let statuses: Vec<&str> = findings.iter().map(|f| f.status.as_str()).collect();
    assert_eq!(statuses, ["verified", "corrected", "open"]);
    let verdicts = state.db.clause_verdicts(audits[0].id).await.unwrap();
    assert!(
        verdicts
            .iter()
            .any(|v| v.verdict == biaozhun::db::audits::Verdict::Nonconform),
        "the demo shows real findings"
    );
    assert!(
        verdicts
            .iter()
            .any(|v| v.clause.starts_with("T/ZTAC 001.2—2023#")
                && v.verdict == biaozhun::db::audits::Verdict::Nonconform),
        "the order log's workflow rules are part of it"
    );
    let key = std::fs::read(cfg.data.join("pseudonym.key")).unwrap();
    assert_eq!(key.len(), 32);
    drop(state);
    // Second start: nothing is created again; the generated admin password is
    // one-time and unchanged, so it is shown again (and still works).
    let (state, setup) = web::prepare(&cfg).await.unwrap();
    assert!(!setup.library_created && setup.demo_users.is_empty());
    assert_eq!(setup.admin_password.as_deref(), Some(password.as_str()));
    assert!(setup.admin_password_again);
    // The admin, a demo user per role, and the two simulated experts of the demo
    // acceptance review (they never sign in).
    assert_eq!(
        state.db.user_count().await.unwrap(),
        1 + Role::ALL.len() as i64 + 2
    );
    assert_eq!(state.db.audits().await.unwrap().len(), 2, "not again");
    assert_eq!(state.db.projects().await.unwrap().len(), 1, "not again");
    assert_eq!(
        state.db.reviews_for(None).await.unwrap().len(),
        1,
        "not again"
    );
    let survey = state
        .db
        .survey_latest("customer-satisfaction")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.db.survey_responses(survey.id).await.unwrap().len(),
        337,
        "the demo's 331 valid and 6 invalid answers, once"
    );
    assert_eq!(state.pseudonym_key, key, "the key is kept");
    assert!(matches!(
        state
            .db
            .login("admin", &password, "127.0.0.1")
            .await
            .unwrap(),
        biaozhun::db::accounts::Login::Ok(_)
    ));
    // Once the admin has chosen a password, later starts show none and keep none.
    let admin = state.db.user_by_name("admin").await.unwrap().unwrap();
    assert!(admin.must_change_password);
    state
        .db
        .set_password(admin.id, "a password of my own", &Actor::default())
        .await
        .unwrap();
    drop(state);
    let (_state, setup) = web::prepare(&cfg).await.unwrap();
    assert!(setup.admin_password.is_none());
    assert!(!cfg.data.join(web::INITIAL_PASSWORD_FILE).exists());
}

/// A publish that fails half-way leaves the submission approved with the error shown
/// and a retry button; the retry publishes it; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_can_be_retried() {
    let s = start(None).await;
    let c = client();
    session_for(&s, Role::Employee).await;
    let (rev_token, rev_csrf) = session_for(&s, Role::Reviewer).await;
    let employee = s
        .state
        .db
        .user_by_name("u-employee")
        .await
        .unwrap()
        .unwrap();
    let reviewer = s
        .state
        .db
        .user_by_name("u-reviewer")
        .await
        .unwrap()
        .unwrap();
    let code = "Q/BZ 050—2026";
    let text = format!(
        "---\ncode: {code}\ntitle: 投诉处理规范\nkind: enterprise\nstatus: current\ncategory: 服务提供标准/服务质量控制规范\nsource: official\n---\n\n## 1 范围\n\n本文件规定了投诉处理的要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n## 4 处理要求\n\n投诉应在24 h内响应。\n"
    );
    let sub = s
        .state
        .db
        .create_submission(
            &biaozhun::db::submissions::NewSubmission {
                title: "投诉处理规范",
                code,
                kind: "new",
                base_code: "",
                department: "",
                category: "服务提供标准/服务质量控制规范",
                text: &text,
            },
            &employee,
        )
        .await
        .unwrap();
    use biaozhun::submission::State as S;
    s.state
        .db
        .transition(sub.id, S::Draft, S::Submitted, &employee, "")
        .await
        .unwrap();
    s.state
        .db
        .transition(sub.id, S::Submitted, S::InReview, &reviewer, "")
        .await
        .unwrap();
    // The API: what the reviewer may do, and a refusal that says why.
    let token = s
        .state
        .db
        .create_api_token(&reviewer, "ci", &Actor::default())
        .await
        .unwrap();
    let api = format!("{}/api/v1/submissions/{}", s.base, sub.id);
    let shown = c.get(&api).bearer_auth(&token).body_json().await;
    assert_eq!(
        shown["actions"],
        serde_json::json!(["request_changes", "approve", "reject"]),
        "{shown}"
    );
    assert_eq!(shown["submission"]["state"], "in_review");
    let refused = c
        .post(format!("{api}/action"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"action": "request_changes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("需要填写意见"));
    let unknown = c
        .post(format!("{api}/action"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"action": "bless"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);

    // Break the library: its git directory is gone while the reviewer approves.
    let git = s.state.library.root().join(".git");
    let hidden = s.state.library.root().join(".git-away");
    std::fs::rename(&git, &hidden).unwrap();
    let url = format!("{}/submissions/{}", s.base, sub.id);
    let approve = |action: &'static str| {
        c.post(format!("{url}/action"))
            .header("cookie", format!("bz_session={rev_token}"))
            .form(&[
                ("csrf", rev_csrf.as_str()),
                ("action", action),
                ("comment", ""),
            ])
    };
    assert_eq!(
        approve("approve").send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let after = s.state.db.submission(sub.id).await.unwrap().unwrap();
    assert_eq!(after.state, S::Approved, "approved but not published");
    assert!(
        after.publish_error.contains("发布失败"),
        "{}",
        after.publish_error
    );
    let page = c
        .get(&url)
        .header("cookie", format!("bz_session={rev_token}"))
        .body_text()
        .await;
    assert!(
        page.contains("发布失败") && page.contains("重试发布"),
        "the error and a retry are shown"
    );
    // Repair and retry.
    std::fs::rename(&hidden, &git).unwrap();
    assert_eq!(
        approve("publish").send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let done = s.state.db.submission(sub.id).await.unwrap().unwrap();
    assert_eq!(done.state, S::Published, "{}", done.publish_error);
    assert!(done.publish_error.is_empty() && !done.published_rev.is_empty());
    assert!(
        s.state.library.read(code, "HEAD").is_ok(),
        "the standard is in the library"
    );
}

/// The submissions API end to end with API tokens (what scripts use): a revision
/// of a 2024 edition is created, edited with optimistic concurrency, previewed,
/// commented on per clause (threaded), approved — and publishing it supersedes the
/// 2024 edition in the library, the standards list and search.
async fn api_revision_supersedes(s: Server) {
    let c = client();
    let db = &s.state.db;
    let mut tokens = Vec::new();
    for (name, role) in [("api-emp", Role::Employee), ("api-rev", Role::Reviewer)] {
        let u = db
            .create_user(
                &NewUser {
                    username: name,
                    display_name: if role == Role::Reviewer {
                        "审核员乙"
                    } else {
                        "员工甲"
                    },
                    password: "a long password",
                    role,
                    department: "运营部",
                },
                &Actor::default(),
            )
            .await
            .unwrap();
        tokens.push(
            db.create_api_token(&u, "script", &Actor::default())
                .await
                .unwrap(),
        );
    }
    let (emp, rev) = (tokens[0].clone(), tokens[1].clone());
    let api = |token: &str, req: reqwest::RequestBuilder| req.bearer_auth(token);

    // A 2024 edition in the library, published before this year.
    let old_text = "---\ncode: Q/BZ 001—2024\ntitle: 家政服务回访规范\nkind: enterprise\nstatus: current\ncategory: 服务提供标准/服务提供规范\nsource: official\n---\n\n## 1 范围\n\n本文件规定了服务回访的要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n## 4 回访要求\n\n服务完成后应在3 d内回访客户。\n";
    s.state
        .library
        .publish(&biaozhun::library::PublishRequest {
            text: old_text.into(),
            author: biaozhun::library::Author::new("标准化办公室", "office@example.com"),
            message: "回访规范 2024 版".into(),
            submission: None,
            when: None,
        })
        .unwrap();
    s.state.refresh().unwrap();
    let old_slug = biaozhun::standard::Code::parse("Q/BZ 001—2024")
        .unwrap()
        .slug();

    // Refusals say why: unknown base, a national standard, a bad category.
    let missing = api(&emp, c.post(format!("{}/api/v1/submissions", s.base)))
        .json(&serde_json::json!({ "revise": "q-nothing-1-2020" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let national = api(&emp, c.post(format!("{}/api/v1/submissions", s.base)))
        .json(&serde_json::json!({ "revise": "t-ztac-001.2-2023" }))
        .send()
        .await
        .unwrap();
    assert_eq!(national.status(), StatusCode::BAD_REQUEST);
    let bad_node = api(&emp, c.post(format!("{}/api/v1/submissions", s.base)))
        .json(&serde_json::json!({ "title": "x", "category": "不存在/节点" }))
        .body_json()
        .await;
    assert!(
        bad_node["error"].as_str().unwrap().contains("不存在/节点"),
        "{bad_node}"
    );

    // Word import: the draft, what was dropped, and its lint; refusals say why.
    let docx = super::docx::typed_numbers();
    let imported = api(&emp, c.post(format!("{}/api/v1/import/docx", s.base)))
        .query(&[
            ("code", "Q/BZ 009—2026"),
            ("category", "服务提供标准/服务提供规范"),
        ])
        .body(docx)
        .body_json()
        .await;
    let md = imported["markdown"].as_str().unwrap();
    assert!(
        md.contains("code: Q/BZ 009—2026") && md.contains("### 4.1 到达"),
        "{md}"
    );
    assert!(!imported["warnings"].as_array().unwrap().is_empty());
    assert!(
        imported["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["severity"] != "error"),
        "{imported}"
    );
    // 2 MiB is over the form limit but within the upload limit: read, then refused
    // as not a Word file.
    let not_word = api(&emp, c.post(format!("{}/api/v1/import/docx", s.base)))
        .body(vec![b'x'; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(not_word.status(), StatusCode::BAD_REQUEST);
    let why: serde_json::Value = not_word.json().await.unwrap();
    assert!(why["error"].as_str().unwrap().contains(".docx"), "{why}");
    // Other routes keep 1 MiB: refused from the announced length (a raw request, so
    // the client is not still writing when the server answers).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = s.base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/v1/preview HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {emp}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }

    // A new standard uploaded as Markdown: the system's code replaces the file's.
    let uploaded = api(&emp, c.post(format!("{}/api/v1/submissions", s.base)))
        .json(&serde_json::json!({
            "title": "家政服务投诉处理规范",
            "category": "服务提供标准/服务提供规范",
            "text": old_text.replace("Q/BZ 001—2024", "Q/MINE 7—2020"),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let uploaded: serde_json::Value = uploaded.json().await.unwrap();
    let assigned = uploaded["submission"]["code"].as_str().unwrap().to_string();
    assert!(
        assigned.starts_with("Q/BZ 002—"),
        "next free number: {assigned}"
    );
    assert!(
        uploaded["submission"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("code: {assigned}")),
        "{uploaded}"
    );

    // The revision starts from the published text and points at it.
    let created = api(&emp, c.post(format!("{}/api/v1/submissions", s.base)))
        .json(&serde_json::json!({ "revise": old_slug }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let created: serde_json::Value = created.json().await.unwrap();
    let sub = &created["submission"];
    let id = sub["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/v1/submissions/{id}"));
    let new_code = sub["code"].as_str().unwrap().to_string();
    assert_ne!(new_code, "Q/BZ 001—2024");
    assert!(new_code.starts_with("Q/BZ 001—"), "{new_code}");
    let text = sub["text"].as_str().unwrap();
    assert!(text.contains("replaces:\n  - Q/BZ 001—2024"), "{text}");

    // Edits carry the version they were made against; a stale one gets 409.
    let revised = text.replace("3 d内回访", "24 h内回访");
    let put = |token: &str, text: &str, version: i64| {
        api(token, c.put(format!("{}/api/v1/submissions/{id}", s.base)))
            .json(&serde_json::json!({ "text": text, "version": version }))
    };
    let saved = put(&emp, &revised, 1).send().await.unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: serde_json::Value = saved.json().await.unwrap();
    assert_eq!(saved["version"], 2);
    let stale = put(&emp, text, 1).send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let stale: serde_json::Value = stale.json().await.unwrap();
    assert_eq!(stale["current_version"], 2, "{stale}");
    assert!(stale["error"].as_str().unwrap().contains("已被他人修改"));
    let not_mine = put(&rev, &revised, 2).send().await.unwrap();
    assert_eq!(
        not_mine.status(),
        StatusCode::FORBIDDEN,
        "only the author edits"
    );

    // The preview is the standard page's own markup for the draft.
    let preview = api(&emp, c.post(format!("{}/api/v1/preview", s.base)))
        .json(&serde_json::json!({ "text": revised, "code": new_code }))
        .body_json()
        .await;
    let html = preview["html"].as_str().unwrap();
    assert!(
        html.contains(r#"<p class="prov requirement"><span class="ptype">要求</span>服务完成后应在24 h内回访客户。</p>"#),
        "{html}"
    );
    assert!(html.contains("Q/BZ 001—2024"), "the 代替 line: {html}");
    let nothing = api(&emp, c.post(format!("{}/api/v1/preview", s.base)))
        .json(&serde_json::json!({ "text": "no front matter", "code": "" }))
        .body_json()
        .await;
    assert!(nothing["html"].is_null() && !nothing["diagnostics"].as_array().unwrap().is_empty());

    // Submit; the reviewer comments on clause 4, the author replies in the thread.
    let act = |token: &str, action: &str, comment: &str| {
        api(
            token,
            c.post(format!("{}/api/v1/submissions/{id}/action", s.base)),
        )
        .json(&serde_json::json!({ "action": action, "comment": comment }))
    };
    assert_eq!(
        act(&emp, "submit", "").send().await.unwrap().status(),
        StatusCode::OK
    );
    let comment = |token: &str, body: serde_json::Value| {
        api(
            token,
            c.post(format!("{}/api/v1/submissions/{id}/comments", s.base)),
        )
        .json(&body)
    };
    let posted = comment(
        &rev,
        serde_json::json!({ "clause": "4", "body": "24 h 是否可行？" }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    let parent = posted.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let reply = comment(
        &emp,
        serde_json::json!({ "body": "已与客服确认可行。", "parent": parent }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let no_clause = comment(&rev, serde_json::json!({ "clause": "9.9", "body": "?" }))
        .body_json()
        .await;
    assert!(
        no_clause["error"].as_str().unwrap().contains("9.9"),
        "{no_clause}"
    );
    let other_id = uploaded["submission"]["id"].as_i64().unwrap();
    let foreign = api(
        &emp,
        c.post(format!("{}/api/v1/submissions/{other_id}/comments", s.base)),
    )
    .json(&serde_json::json!({ "body": "串线", "parent": parent }))
    .send()
    .await
    .unwrap();
    assert_eq!(
        foreign.status(),
        StatusCode::BAD_REQUEST,
        "a reply stays in its own submission's thread"
    );
    let shown = api(&emp, c.get(format!("{}/api/v1/submissions/{id}", s.base)))
        .body_json()
        .await;
    let comments = shown["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1]["parent_id"], parent);
    assert_eq!(
        comments[1]["clause"], "4",
        "a reply inherits its thread's clause"
    );

    // Notifications: the author hears of the reviewer's comment, the reviewer of the
    // submission and of the reply; nobody of their own actions.
    let notes = |token: &str| {
        let token = token.to_string();
        let c = c.clone();
        let url = format!("{}/api/v1/notifications", s.base);
        async move { api(&token, c.get(url)).body_json().await }
    };
    let mine = notes(&emp).await;
    let list = mine["notifications"].as_array().unwrap();
    assert!(
        list.iter().any(|n| n["kind"] == "comment"
            && n["clause"] == "4"
            && n["who"] == "api-rev"
            && n["unread"] == true),
        "{mine}"
    );
    assert!(list.iter().all(|n| n["who"] != "api-emp"), "{mine}");
    assert_eq!(mine["unread"], 1, "{mine}");
    let theirs = notes(&rev).await;
    let list = theirs["notifications"].as_array().unwrap();
    assert!(
        list.iter().any(|n| n["kind"] == "transition"
            && n["to_state"] == "submitted"
            && n["code"] == new_code.as_str()),
        "{theirs}"
    );
    assert!(
        list.iter()
            .any(|n| n["kind"] == "comment" && n["body"] == "已与客服确认可行。"),
        "the reply to the reviewer's comment: {theirs}"
    );
    // Opening the list marks it read.
    let page = api(&emp, c.get(format!("{}/notifications", s.base)))
        .body_text()
        .await;
    assert!(
        page.contains("对第 4 条发表了意见") && page.contains(r#"class="unread""#),
        "{page}"
    );
    assert_eq!(notes(&emp).await["unread"], 0);

    // Approval publishes; the 2024 edition is superseded by the new one.
    assert_eq!(
        act(&rev, "start_review", "").send().await.unwrap().status(),
        StatusCode::OK
    );
    let approved = act(&rev, "approve", "").body_json().await;
    assert_eq!(approved["state"], "published", "{approved}");
    let list = api(&emp, c.get(format!("{}/api/v1/standards", s.base)))
        .body_json()
        .await;
    let status_of = |code: &str| {
        list["standards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["code"] == code)
            .map(|x| x["status"].clone())
    };
    assert_eq!(
        status_of("Q/BZ 001—2024"),
        Some("superseded".into()),
        "{list}"
    );
    assert_eq!(status_of(&new_code), Some("current".into()));
    let old = api(
        &emp,
        c.get(format!("{}/api/v1/standards/{old_slug}", s.base)),
    )
    .body_json()
    .await;
    assert_eq!(old["meta"]["replaced_by"], new_code.as_str(), "{old}");
    let page = api(&emp, c.get(format!("{}/standards/{old_slug}", s.base)))
        .body_text()
        .await;
    assert!(
        page.contains("被代替") && page.contains(&new_code),
        "{page}"
    );
    let hits = api(&emp, c.get(format!("{}/api/v1/search", s.base)))
        .query(&[("q", "24 h内回访")])
        .body_json()
        .await;
    assert!(
        hits.to_string().contains(&new_code),
        "the new edition is searchable: {hits}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_api_and_superseding_on_sqlite() {
    api_revision_supersedes(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_api_and_superseding_on_postgres() {
    api_revision_supersedes(start(Some(super::db::fresh_pg_url().await)).await).await;
}

/// The audit page shows coverage per standard in scope, and two audits compare
/// clause by clause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_coverage_and_comparison_pages() {
    use biaozhun::db::audits::{NewAudit, Verdict};
    let s = start(None).await;
    let c = client();
    let (token, _) = session_for(&s, Role::Auditor).await;
    let me = s.state.db.user_by_name("u-auditor").await.unwrap().unwrap();
    let scope = ["T/ZTAC 002—2023".to_string()];
    let mut ids = Vec::new();
    for (name, v42, v43) in [
        ("2022年度", Verdict::Nonconform, Verdict::Conform),
        ("2023年度", Verdict::Conform, Verdict::Nonconform),
    ] {
        let a = s
            .state
            .db
            .create_audit(
                &NewAudit {
                    name,
                    standards: &scope,
                    period_from: "2023-01-01",
                    period_to: "2023-12-31",
                    outlets: &[],
                    max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
                },
                &me,
            )
            .await
            .unwrap();
        for (clause, v) in [("4.2", v42), ("4.3", v43)] {
            let sev = if v == Verdict::Nonconform {
                "minor"
            } else {
                ""
            };
            s.state
                .db
                .set_clause_verdict(a.id, &format!("T/ZTAC 002—2023#{clause}"), v, sev, "", &me)
                .await
                .unwrap();
        }
        ids.push(a.id);
    }
    let as_me = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={token}"));
    let page = as_me(c.get(format!("{}/audits/{}", s.base, ids[1])))
        .body_text()
        .await;
    assert!(
        page.contains("覆盖情况") && page.contains("T/ZTAC 002—2023") && page.contains("100.0%"),
        "{page}"
    );
    let cmp = as_me(c.get(format!(
        "{}/audits/compare?a={}&b={}",
        s.base, ids[0], ids[1]
    )))
    .body_text()
    .await;
    assert!(cmp.contains("改善 1") && cmp.contains("变差 1"), "{cmp}");
    // One outlet across audits.
    s.state
        .db
        .set_item(
            ids[0],
            "outlet-emergency-plan",
            "O03",
            Verdict::Nonconform,
            "未上墙",
            &me,
        )
        .await
        .unwrap();
    s.state
        .db
        .set_item(
            ids[1],
            "outlet-emergency-plan",
            "O03",
            Verdict::Conform,
            "已整改上墙",
            &me,
        )
        .await
        .unwrap();
    let outlet = as_me(c.get(format!("{}/audits/outlets/O03", s.base)))
        .body_text()
        .await;
    assert!(
        outlet.contains("2022年度") && outlet.contains("未上墙") && outlet.contains("已整改上墙"),
        "{outlet}"
    );
    assert!(
        outlet.find("2023年度") < outlet.find("2022年度"),
        "newest audit first"
    );
    let row42 = cmp.split("T/ZTAC 002—2023#4.2").nth(1).unwrap_or("");
    assert!(
        row42.split("</tr>").next().unwrap_or("").contains("改善"),
        "{cmp}"
    );
    // Report downloads from the audit page.
    assert!(
        page.contains(&format!("/audits/{}/report/pdf", ids[1])),
        "{page}"
    );
    for (format, mime, magic) in [
        ("pdf", "application/pdf", &b"%PDF-"[..]),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK",
        ),
        (
            "csv?table=findings",
            "text/csv; charset=utf-8",
            "\u{feff}编号".as_bytes(),
        ),
        ("oscal", "application/json", b"{"),
    ] {
        let r = as_me(c.get(format!("{}/audits/{}/report/{format}", s.base, ids[1])))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{format}");
        assert_eq!(r.headers()["content-type"], mime);
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            disposition.starts_with("attachment; filename=\"BZSH-"),
            "{disposition}"
        );
        assert!(r.headers().get("x-missing-glyphs").is_none());
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(magic), "{format}");
    }
    let r = as_me(c.get(format!("{}/audits/{}/report/docx", s.base, ids[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A character no font has: the page warns, saying where; the PDF says which.
    s.state
        .db
        .set_clause_verdict(
            ids[1],
            "T/ZTAC 002—2023#4.3",
            Verdict::Nonconform,
            "minor",
            "站长签名为生僻字\u{10FFFD}",
            &me,
        )
        .await
        .unwrap();
    let page = as_me(c.get(format!("{}/audits/{}", s.base, ids[1])))
        .body_text()
        .await;
    let warning = page
        .split("id=\"glyph-warning\"")
        .nth(1)
        .expect("a glyph warning");
    assert!(
        warning.contains("U+10FFFD") && warning.contains("4.3"),
        "{warning}"
    );
    let r = as_me(c.get(format!("{}/audits/{}/report/pdf", s.base, ids[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-missing-glyphs"], "U+10FFFD");
}

/// Events pushed by the platform: stored before they are acknowledged, idempotent by
/// event id (a resent batch stores nothing twice), a bad batch refused whole with
/// every problem named, and a client sending faster than the server stores gets 503
/// with Retry-After instead of queueing without bound.
async fn events_ingest(s: Server) {
    let c = client();
    let admin = s.state.db.user_by_name("admin").await.unwrap().unwrap();
    let token = s
        .state
        .db
        .create_api_token(&admin, "platform", &Actor::default())
        .await
        .unwrap();
    let url = format!("{}/api/v1/events", s.base);
    const ACTS: [&str; 4] = ["下单", "受理", "派单", "完成"];
    let batch = |from: usize, n: usize| {
        let events: Vec<serde_json::Value> = (from..from + n)
            .map(|i| {
                serde_json::json!({
                    "id": format!("evt-{i}"),
                    "case_id": format!("O{:08}", i / 4),
                    "activity": ACTS[i % 4],
                    "timestamp": format!("2024-05-01T10:{:02}:{:02}+08:00", (i / 60) % 60, i % 60),
                    "worker_id": format!("W{:05}", i % 97),
                    "stars": 5,
                })
            })
            .collect();
        serde_json::json!({ "events": events })
    };
    let post = |body: serde_json::Value| c.post(&url).bearer_auth(&token).json(&body).send();
    let r = post(batch(0, 1000)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v = r.json::<serde_json::Value>().await.unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(1000), Some(0))
    );
    // At-least-once delivery: the same batch again, and one overlapping it.
    let v = post(batch(0, 1000))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(1000))
    );
    let v = post(batch(500, 1000))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(500), Some(500))
    );
    // Sequence numbers only grow (a duplicate may use one up: they have gaps).
    let stored = s.state.db.events_after(0, 10_000).await.unwrap();
    assert_eq!(stored.len(), 1500);
    assert_eq!(v["last_seq"].as_i64(), Some(stored[1499].seq));
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));
    let order: Vec<String> = (0..1500).map(|i| format!("evt-{i}")).collect();
    assert_eq!(
        stored.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        order
    );
    // Read back in arrival order, attributes as text.
    let page = c
        .get(format!("{url}?after={}&limit=3", stored[998].seq))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let got: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["evt-999", "evt-1000", "evt-1001"]);
    assert_eq!(page["events"][0]["attrs"]["stars"], "5");
    assert_eq!(page["last_seq"], stored[1001].seq);
    let last = stored[1499].seq;
    // A batch with bad events is refused whole, each problem named by its place.
    let mut bad = batch(5000, 3);
    bad["events"][1]["timestamp"] = "昨天".into();
    bad["events"][2].as_object_mut().unwrap().remove("case_id");
    let r = post(bad).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v = r.json::<serde_json::Value>().await.unwrap();
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors[0].starts_with("events[1].timestamp") && errors[1].starts_with("events[2].case_id"),
        "{errors:?}"
    );
    let after = s.state.db.events_after(last, 10).await.unwrap();
    assert!(after.is_empty(), "nothing of the refused batch is stored");
    // Without a token: 401; a batch over the limit: 413.
    let r = c.post(&url).json(&batch(0, 1)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = post(batch(0, biaozhun::monitor::ingest::MAX_BATCH + 1))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Back-pressure: with every slot taken, a batch is turned away at once with
    // Retry-After, and stores nothing; once a slot is free it goes through.
    let slots = s
        .state
        .ingest_slots
        .acquire_many(biaozhun::web::monitor::INGEST_SLOTS as u32)
        .await
        .unwrap();
    let r = post(batch(9000, 10)).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(s.state.db.events_after(last, 10).await.unwrap().is_empty());
    drop(slots);
    let v = post(batch(9000, 10))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(v["accepted"], 10);
    // Many clients at once: every event stored exactly once, whatever got a 503.
    let mut tasks = Vec::new();
    for k in 0..16 {
        let c = c.clone();
        let url = url.clone();
        let token = token.clone();
        let body = batch(20_000 + k * 500, 500);
        tasks.push(tokio::spawn(async move {
            loop {
                let r = c
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                match r.status() {
                    StatusCode::OK => return,
                    StatusCode::SERVICE_UNAVAILABLE => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await
                    }
                    other => panic!("{other}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = s.state.db.events_after(0, 100_000).await.unwrap();
    assert_eq!(all.len(), 1500 + 10 + 16 * 500);
    let mut ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "no event stored twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_ingest_on_sqlite() {
    events_ingest(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_ingest_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    events_ingest(start(Some(url)).await).await;
}

/// (delivery id, signature, body, status answered) of each webhook request.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String, u16)>>>;

/// A webhook receiver: answers the first delivery 500, then 200; keeps what came.
async fn webhook_receiver() -> (String, Received) {
    use axum::http::HeaderMap;
    let got: Received = Default::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let mut g = g.lock().unwrap();
                let status = if g.is_empty() { 500 } else { 200 };
                g.push((
                    h("x-biaozhun-delivery"),
                    h("x-biaozhun-signature"),
                    body,
                    status,
                ));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn live_monitoring(database_url: Option<String>) {
    use biaozhun::monitor::service::{Clock, MonitorConfig, Webhook};
    let (hook, received) = webhook_receiver().await;
    let s = start_monitored(
        database_url,
        MonitorConfig {
            clock: Clock::Events,
            webhook: Some(Webhook {
                url: hook,
                secret: "hook-secret".into(),
            }),
            ..MonitorConfig::default()
        },
    )
    .await;
    let c = client();
    let admin = s.state.db.user_by_name("admin").await.unwrap().unwrap();
    let token = s
        .state
        .db
        .create_api_token(&admin, "platform", &Actor::default())
        .await
        .unwrap();
    let (session, csrf) = session_for(&s, Role::Auditor).await;
    let push = |events: serde_json::Value| {
        c.post(format!("{}/api/v1/events", s.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "events": events }))
            .send()
    };
    let alerts = |q: &'static str| {
        c.get(format!("{}/api/v1/alerts?{q}", s.base))
            .bearer_auth(&token)
            .send()
    };
    let ev = |id: &str, case: &str, act: &str, hm: &str| {
        serde_json::json!({"id": id, "case_id": case, "activity": act,
            "timestamp": format!("2024-05-01T{hm}:00+08:00"), "role": "客服人员", "outlet_id": "O03"})
    };
    // The live page's stream, open before anything happens.
    let mut stream = c
        .get(format!("{}/monitor/stream", s.base))
        .header("cookie", format!("bz_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // A placed at 10:00; B placed and accepted; time reaches 10:16 (C): A is warned.
    let r = push(serde_json::json!([
        ev("a1", "A", "下单", "10:00"),
        ev("b1", "B", "下单", "10:00"),
        ev("b2", "B", "受理", "10:05"),
        ev("c1", "C", "下单", "10:16"),
    ]))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    wait_for("a warning", || async {
        let v: serde_json::Value = alerts("kind=warning").await.unwrap().json().await.unwrap();
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "A" && a["rule_id"] == "first-response-20min")
    })
    .await;
    let v: serde_json::Value = alerts("state=all").await.unwrap().json().await.unwrap();
    assert!(
        !v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "B"),
        "B was answered in time: {v}"
    );
    assert_eq!(v["alerts"][0]["outlet"], "O03");
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
        .await
        .expect("the stream pushed the change")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("event: alerts"));
    // 10:21: A's 20 minutes are up — a violation; the warning is resolved by it.
    push(serde_json::json!([ev("d1", "D", "下单", "10:21")]))
        .await
        .unwrap();
    wait_for("a violation", || async {
        let v: serde_json::Value = alerts("kind=violation")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "A")
    })
    .await;
    let v: serde_json::Value = alerts("state=resolved&kind=warning")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["alerts"][0]["resolution"], "已超过期限，转为违规", "{v}");
    let v: serde_json::Value = alerts("kind=violation&clause=T/ZTAC 001.2—2023%239.1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = v["alerts"][0]["id"].as_i64().expect("filtered by clause");
    // Acting on it through the API: acknowledge, assign, resolve (with a note).
    let act = |body: serde_json::Value| {
        c.post(format!("{}/api/v1/alerts/{id}", s.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert_eq!(
        act(serde_json::json!({"action": "acknowledge"}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        act(serde_json::json!({"action": "acknowledge"}))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST,
        "already acknowledged"
    );
    let r: serde_json::Value =
        act(serde_json::json!({"action": "assign", "assignee": "锦北网点 李堃"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(r["assignee"], "锦北网点 李堃");
    let r = act(serde_json::json!({"action": "resolve"})).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a resolution needs a note"
    );
    assert!(r.text().await.unwrap().contains("处理说明"));
    assert_eq!(
        act(serde_json::json!({"action": "resolve", "note": "已电话联系客户并补派"}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        act(serde_json::json!({"action": "assign", "assignee": "x"}))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST,
        "resolved alerts take no action"
    );
    let v: serde_json::Value = c
        .get(format!("{}/api/v1/alerts/{id}", s.base))
        .bearer_auth(&token)
        .body_json()
        .await;
    let actions: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["acknowledge", "assign", "resolve"]);
    assert_eq!(v["alert"]["state"], "resolved");
    // C's deadline passes (10:37): acknowledged through the page's form.
    push(serde_json::json!([ev("e1", "E", "下单", "10:37")]))
        .await
        .unwrap();
    wait_for("C's violation", || async {
        let v: serde_json::Value = alerts("kind=violation")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "C")
    })
    .await;
    let page = c
        .get(format!("{}/monitor?kind=violation&outlet=O03", s.base))
        .header("cookie", format!("bz_session={session}"))
        .body_text()
        .await;
    assert!(page.contains("下单后20 min内首次响应"), "{page}");
    assert!(page.contains("订单 C"), "the open violation is listed");
    assert!(
        page.contains("按条款")
            && page.contains("/monitor?clause=T/ZTAC%20001.2%E2%80%942023%239.1"),
        "open alerts per clause, each a filter"
    );
    assert!(
        !page.contains("订单 A"),
        "A's is resolved, not listed as open"
    );
    let v: serde_json::Value = alerts("kind=violation")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["subject"] == "C")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c
        .post(format!("{}/monitor/alerts/{cid}", s.base))
        .header("cookie", format!("bz_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "acknowledge"),
            ("back", "/monitor?kind=violation"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/monitor?kind=violation");
    let page = c
        .get(format!("{}/monitor?kind=violation", s.base))
        .header("cookie", format!("bz_session={session}"))
        .body_text()
        .await;
    assert!(page.contains("已确认"), "acknowledged");
    // Back-pressure from the monitor: while too many events wait for evaluation,
    // ingest answers 503 with Retry-After, and takes batches again once it caught up.
    s.state
        .monitor
        .backlog
        .store(2_000_000, std::sync::atomic::Ordering::Relaxed);
    let r = push(serde_json::json!([ev("z1", "Z", "下单", "10:38")]))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    s.state
        .monitor
        .backlog
        .store(0, std::sync::atomic::Ordering::Relaxed);
    // The 驾驶舱: today's figures and the town table.
    let dash = c
        .get(format!("{}/monitor/dashboard", s.base))
        .header("cookie", format!("bz_session={session}"))
        .body_text()
        .await;
    assert!(dash.contains("驾驶舱") && dash.contains("各镇街"), "{dash}");
    assert!(dash.contains("<polyline"), "sparklines");
    let d: serde_json::Value = c
        .get(format!("{}/api/v1/monitor", s.base))
        .bearer_auth(&token)
        .body_json()
        .await;
    assert_eq!(d["today"]["events"], 6);
    assert!(d["today"]["violations"].as_i64().unwrap() >= 2, "{d}");
    assert!(d["today"]["warnings"].as_i64().unwrap() >= 2, "{d}");
    // The webhook: every delivery signed; the first failed (500) and was retried.
    wait_for("webhook retries", || async {
        // Backoff: the first retry comes 2 s after the failure.
        let g = received.lock().unwrap();
        g.iter().filter(|x| x.3 == 200).count() >= 3 && g.iter().skip(1).any(|x| x.0 == g[0].0)
    })
    .await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got[0].3, 500);
    assert!(
        got.iter().skip(1).any(|x| x.0 == got[0].0 && x.3 == 200),
        "the failed delivery was retried with the same delivery id"
    );
    for (_, sig, body, _) in &got {
        let (t, v1) = sig.split_once(",v1=").unwrap();
        let t = t.strip_prefix("t=").unwrap();
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(v1, hex, "signature of {body}");
    }
    assert!(
        got.iter()
            .any(|x| x.2.contains("alert.raised") && x.2.contains("\"subject\":\"A\""))
    );
    assert!(got.iter().any(|x| x.2.contains("alert.resolved")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_monitoring_on_sqlite() {
    live_monitoring(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_monitoring_on_postgres() {
    live_monitoring(Some(super::db::fresh_pg_url().await)).await;
}

/// The demo platform (entities and an order log of 2023) in the server's platform
/// directory, as `serve --demo` makes it.
fn write_platform(s: &Server, orders: u64) {
    let dir = &s.state.platform_dir;
    std::fs::create_dir_all(dir).unwrap();
    let g = biaozhun::platform::generate::generate(&Default::default());
    for (name, text) in &g.files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut log = std::io::BufWriter::new(std::fs::File::create(dir.join("orders.csv")).unwrap());
    biaozhun::audit::generate::generate(
        &biaozhun::audit::generate::Settings::new(orders, 1),
        biaozhun::audit::generate::OutFormat::Csv,
        &mut log,
    )
    .unwrap();
    std::io::Write::flush(&mut log).unwrap();
}

pub(crate) fn csrf_of(page: &str) -> String {
    let i = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[i..i + page[i..].find('"').unwrap()].to_string()
}

fn visit_of(page: &str) -> String {
    let i = page
        .find("name=\"visit\" value=\"")
        .expect("the form's visit token")
        + 20;
    page[i..i + page[i..].find('"').unwrap()].to_string()
}

/// The first `href="/s/…"` token on a page.
fn link_token(page: &str) -> String {
    let i = page.find("href=\"/s/").expect("a survey link") + 9;
    page[i..i + page[i..].find('"').unwrap()].to_string()
}

pub(crate) fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

const MATRIX_SURVEY: &str = "id: web-test
title: 网点服务测试问卷
overall: overall
questions:
  - id: overall
    text: 总体而言您是否满意
    kind: likert
  - id: grid
    text: 您对以下方面是否满意
    kind: matrix
    rows: [环境, 态度]
  - id: known
    text: 您是否了解网点
    kind: single
    options: [了解, 不了解]
  - id: ways
    text: 您通过哪些渠道了解网点
    kind: multiple
    options: [社区, 朋友, 网络]
    required: false
  - id: advice
    text: 建议
    kind: text
    required: false
";

/// Surveys over HTTP: a definition with a matrix, the public form through open and
/// single links (one response each, honeypot, forged visit, rate limit, revoked
/// link), phone entry, a 问卷星 import previewed then committed once, versioning on
/// edit, downloads, the survey metric in an audit, and the return visit.
async fn survey_flow(s: Server) {
    let c = client();
    let (staff, _) = session_for(&s, Role::Reviewer).await;
    let (employee, _) = session_for(&s, Role::Employee).await;
    let as_staff = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={staff}"));
    let list = as_staff(c.get(format!("{}/surveys", s.base)))
        .body_text()
        .await;
    assert!(
        list.contains("家政服务顾客满意度调查"),
        "the repository's survey is listed"
    );
    let csrf = csrf_of(&list);

    // A definition with an error names the line; nothing is stored.
    let bad = as_staff(c.post(format!("{}/surveys", s.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            (
                "yaml",
                "id: x\ntitle: t\nquestions:\n  - id: a\n    text: t\n    kind: matrix\n",
            ),
        ])
        .body_text()
        .await;
    assert!(
        bad.contains("问卷定义:4: matrix `a` needs `rows:`"),
        "{bad}"
    );
    let r = as_staff(c.post(format!("{}/surveys", s.base)))
        .form(&[("csrf", csrf.as_str()), ("yaml", MATRIX_SURVEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = location(&r);
    assert!(at.ends_with("?saved=created"), "{at}");
    let id: i64 = at["/surveys/".len()..at.find('?').unwrap()]
        .parse()
        .unwrap();
    let page = as_staff(c.get(format!("{}{at}", s.base))).body_text().await;
    assert!(
        page.contains("问卷已创建") && page.contains("您对以下方面是否满意：环境"),
        "matrix rows are questions"
    );

    // An open link: the page shows its QR code; the form needs no login.
    let r = as_staff(c.post(format!("{}/surveys/{id}/links", s.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "open"),
            ("label", "网点海报"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = as_staff(c.get(format!("{}/surveys/{id}", s.base)))
        .body_text()
        .await;
    assert!(page.contains("<svg"), "an open link has a QR code");
    let open = link_token(&page);
    let form = c.get(format!("{}/s/{open}", s.base)).body_text().await;
    assert!(
        form.contains("网点服务测试问卷")
            && form.contains("您对以下方面是否满意")
            && form.contains("name=\"q_grid.2\""),
        "{form}"
    );
    assert!(
        !form.contains("退出"),
        "the public form shows no signed-in chrome"
    );
    let visits: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..12 {
            v.push(visit_of(
                &c.get(format!("{}/s/{open}", s.base)).body_text().await,
            ));
        }
        v
    };
    let answers = |visit: &str, overall: &str| -> Vec<(String, String)> {
        vec![
            ("visit".into(), visit.into()),
            ("q_overall".into(), overall.into()),
            ("q_grid.1".into(), "0".into()),
            ("q_grid.2".into(), "1".into()),
            ("q_known".into(), "0".into()),
            ("q_ways".into(), "0".into()),
            ("q_ways".into(), "2".into()),
            ("q_advice".into(), "很好".into()),
        ]
    };
    let post = |token: String, body: Vec<(String, String)>| {
        let c = c.clone();
        let base = s.base.clone();
        async move {
            c.post(format!("{base}/s/{token}"))
                .form(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Too quick for a person: refused, nothing stored.
    let r = post(open.clone(), answers(&visits[0], "0")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    // A required question unanswered: the form again, answers kept, nothing stored.
    let mut partial = answers(&visits[0], "0");
    partial.retain(|(k, _)| k != "q_known");
    let r = post(open.clone(), partial).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = r.text().await.unwrap();
    assert!(again.contains("请回答：您是否了解网点"), "{again}");
    assert!(again.contains("value=\"2\" checked"), "answers are kept");
    // The honeypot and a forged visit token are refused.
    let mut bot = answers(&visits[1], "0");
    bot.push(("homepage".into(), "http://spam.example".into()));
    assert_eq!(
        post(open.clone(), bot).await.status(),
        StatusCode::BAD_REQUEST
    );
    let flipped = if visits[1].ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{flipped}", &visits[1][..visits[1].len() - 1]);
    assert_eq!(
        post(open.clone(), answers(&forged, "0")).await.status(),
        StatusCode::BAD_REQUEST
    );
    // A response; the same visit again is not a second one.
    let r = post(open.clone(), answers(&visits[0], "0")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("提交成功"));
    let r = post(open.clone(), answers(&visits[0], "1")).await;
    assert!(r.text().await.unwrap().contains("已提交"));
    let stored = s.state.db.survey_responses(id).await.unwrap();
    assert_eq!(stored.len(), 1, "one response per visit");
    let first = &stored[0].response;
    assert_eq!(first.channel, biaozhun::survey::Channel::Online);
    assert_eq!(first.contact.as_deref(), Some("127.0.0.1"));
    assert!(
        first.duration_s.unwrap() >= 3,
        "the server measured the visit"
    );
    assert_eq!(first.answers["grid.2"], biaozhun::survey::Answer::Choice(1));
    assert_eq!(
        first.answers["ways"],
        biaozhun::survey::Answer::Choices(vec![0, 2])
    );
    // The rate limit: ten responses an hour from one address through open links.
    for v in &visits[2..11] {
        assert_eq!(
            post(open.clone(), answers(v, "1")).await.status(),
            StatusCode::OK
        );
    }
    let r = post(open.clone(), answers(&visits[11], "1")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3600");
    assert_eq!(s.state.db.survey_responses(id).await.unwrap().len(), 10);

    // A single link takes one response, even from two open forms.
    as_staff(c.post(format!("{}/surveys/{id}/links", s.base)))
        .form(&[("csrf", csrf.as_str()), ("kind", "single"), ("count", "1")])
        .send()
        .await
        .unwrap();
    let links = s.state.db.survey_links("web-test").await.unwrap();
    let single = links.iter().find(|l| !l.open).unwrap().token.clone();
    let v1 = visit_of(&c.get(format!("{}/s/{single}", s.base)).body_text().await);
    let v2 = visit_of(&c.get(format!("{}/s/{single}", s.base)).body_text().await);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert!(
        post(single.clone(), answers(&v1, "1"))
            .await
            .text()
            .await
            .unwrap()
            .contains("提交成功")
    );
    assert!(
        post(single.clone(), answers(&v2, "2"))
            .await
            .text()
            .await
            .unwrap()
            .contains("已提交")
    );
    assert!(
        c.get(format!("{}/s/{single}", s.base))
            .body_text()
            .await
            .contains("已经提交过")
    );
    assert_eq!(s.state.db.survey_responses(id).await.unwrap().len(), 11);
    // A revoked link is closed.
    as_staff(c.post(format!("{}/surveys/{id}/links/{open}/revoke", s.base)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get(format!("{}/s/{open}", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::GONE
    );

    // Phone entry by an employee: channel 电话, interviewer, masked number.
    let phone_page = c
        .get(format!("{}/surveys/{id}/phone", s.base))
        .header("cookie", format!("bz_session={employee}"))
        .body_text()
        .await;
    let ecsrf = csrf_of(&phone_page);
    let mut body = answers("", "1");
    body.retain(|(k, _)| k != "visit");
    body.extend([
        ("csrf".to_string(), ecsrf.clone()),
        ("interviewer".into(), "王芳".into()),
        ("phone".into(), "13812345678".into()),
        ("order".into(), "ORD-1".into()),
        ("started".into(), (biaozhun::db::now() - 200).to_string()),
    ]);
    let r = c
        .post(format!("{}/surveys/{id}/phone", s.base))
        .header("cookie", format!("bz_session={employee}"))
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let stored = s.state.db.survey_responses(id).await.unwrap();
    let phone = stored.last().unwrap();
    assert_eq!(phone.response.channel, biaozhun::survey::Channel::Phone);
    assert_eq!(phone.interviewer, "王芳");
    assert_eq!(phone.order_id, "ORD-1");
    assert_eq!(phone.response.contact.as_deref(), Some("138****5678"));
    assert!((199..=260).contains(&phone.response.duration_s.unwrap()));
    // An employee cannot design surveys.
    let r = c
        .post(format!("{}/surveys/{id}/edit", s.base))
        .header("cookie", format!("bz_session={employee}"))
        .form(&[("csrf", ecsrf.as_str()), ("yaml", MATRIX_SURVEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Statistics: 12 responses; the ten online ones were under 60 s, so invalid.
    let stats = as_staff(c.get(format!("{}/api/v1/surveys/{id}/stats", s.base)))
        .body_json()
        .await;
    assert_eq!(stats["stats"]["responses"], 12);
    assert_eq!(stats["stats"]["valid"], 1, "{stats}");
    assert_eq!(stats["stats"]["by_channel"]["电话"], 1);
    assert_eq!(stats["invalid"].as_array().unwrap().len(), 11);
    assert_eq!(stats["invalid"][0]["reasons"][0]["rule"], "too_fast");
    let page = as_staff(c.get(format!("{}/surveys/{id}", s.base)))
        .body_text()
        .await;
    assert!(
        page.contains("无效答卷（11）") && page.contains("用时"),
        "invalid responses are listed"
    );

    // Editing a survey with responses makes a new version; the old keeps its answers.
    let edited = MATRIX_SURVEY.replace("建议\n", "其他建议\n");
    let r = as_staff(c.post(format!("{}/surveys/{id}/edit", s.base)))
        .form(&[("csrf", csrf.as_str()), ("yaml", edited.as_str())])
        .send()
        .await
        .unwrap();
    let at = location(&r);
    assert!(at.ends_with("?saved=version"), "{at}");
    let v2: i64 = at["/surveys/".len()..at.find('?').unwrap()]
        .parse()
        .unwrap();
    assert_ne!(v2, id);
    assert_eq!(s.state.db.survey(v2).await.unwrap().unwrap().version, 2);
    assert_eq!(s.state.db.survey_responses(id).await.unwrap().len(), 12);
    assert!(s.state.db.survey_responses(v2).await.unwrap().is_empty());
    // v2 has no responses: a further edit changes it in place.
    let r = as_staff(c.post(format!("{}/surveys/{v2}/edit", s.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("yaml", edited.replace("其他建议", "您的建议").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("/surveys/{v2}?saved=updated"));
    // The id cannot change through an edit.
    let page = as_staff(c.post(format!("{}/surveys/{v2}/edit", s.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("yaml", edited.replace("id: web-test", "id: other").as_str()),
        ])
        .body_text()
        .await;
    assert!(page.contains("问卷编号（id）不能修改"), "{page}");

    // Import: the test survey, a 问卷星 export previewed, then committed once.
    let def = std::fs::read_to_string(format!(
        "{}/tests/data/surveys/test.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let r = as_staff(c.post(format!("{}/surveys", s.base)))
        .form(&[("csrf", csrf.as_str()), ("yaml", def.as_str())])
        .send()
        .await
        .unwrap();
    let at = location(&r);
    let tid: i64 = at["/surveys/".len()..at.find('?').unwrap()]
        .parse()
        .unwrap();
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        as_staff(c.post(format!("{}/surveys/{tid}/import", s.base))).multipart(form)
    };
    let csv = std::fs::read(format!(
        "{}/tests/data/surveys/wjx-text.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let preview = upload("wjx-text.csv", csv.clone()).body_text().await;
    assert!(preview.contains("共 9 份答卷（按选项文本）"), "{preview}");
    assert!(preview.contains("id=\"confirm-import\""));
    assert!(
        s.state.db.survey_responses(tid).await.unwrap().is_empty(),
        "a preview stores nothing"
    );
    let sha = {
        let i = preview.find("name=\"sha\" value=\"").unwrap() + 18;
        preview[i..i + 64].to_string()
    };
    let confirm = |confirm: &'static str| {
        as_staff(c.post(format!("{}/surveys/{tid}/import/confirm", s.base))).form(&[
            ("csrf", csrf.as_str()),
            ("sha", sha.as_str()),
            ("file_name", "wjx-text.csv"),
            ("confirm", confirm),
        ])
    };
    let r = confirm("1").send().await.unwrap();
    assert_eq!(location(&r), format!("/surveys/{tid}?saved=imported"));
    assert_eq!(s.state.db.survey_responses(tid).await.unwrap().len(), 9);
    let r = confirm("1").send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "the same file is not imported twice"
    );
    assert!(r.text().await.unwrap().contains("已导入过"));
    assert_eq!(s.state.db.survey_responses(tid).await.unwrap().len(), 9);
    // A bad file: every problem named by row and column; nothing imported.
    let text = String::from_utf8(csv).unwrap();
    let broken = text.replacen("非常满意,非常满意,满意", "非常满意,很满意,满意", 1);
    let preview = upload("broken.csv", broken.into_bytes()).body_text().await;
    assert!(
        preview.contains("第 2 行 H 列（2、您对服务质量是否满意）"),
        "{preview}"
    );
    assert!(!preview.contains("id=\"confirm-import\""));
    // A renamed column: mapped by the user, then importable.
    let renamed = text.replacen("5、您通过哪些渠道下单", "5、下单渠道", 1);
    let preview = upload("renamed.csv", renamed.into_bytes())
        .body_text()
        .await;
    assert!(preview.contains("题目“5、下单渠道”在问卷"), "{preview}");
    let rsha = {
        let i = preview.find("name=\"sha\" value=\"").unwrap() + 18;
        preview[i..i + 64].to_string()
    };
    let r = as_staff(c.post(format!("{}/surveys/{tid}/import/confirm", s.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("sha", rsha.as_str()),
            ("file_name", "renamed.csv"),
            ("map_5", "q5"),
            ("confirm", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.state.db.survey_responses(tid).await.unwrap().len(), 18);

    // Downloads: the report PDF and the workbook.
    let pdf = as_staff(c.get(format!("{}/surveys/{tid}/report/pdf", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let text = super::pdf::flat_text(pdf.bytes().await.unwrap());
    assert!(
        text.contains("满意度测评报告") && text.contains("家政服务满意度测试问卷"),
        "{text}"
    );
    let xlsx = as_staff(c.get(format!("{}/surveys/{tid}/report/xlsx", s.base)))
        .send()
        .await
        .unwrap();
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));

    // The survey metric of DB3301/T 0441—2024 7.1 in an audit: no survey with 300
    // valid responses → fails; then 320 valid ones scoring 4.6 → passes.
    write_platform(&s, 1500);
    let auditor = s.state.db.user_by_name("u-auditor").await.ok().flatten();
    let auditor = match auditor {
        Some(u) => u,
        None => {
            session_for(&s, Role::Auditor).await;
            s.state.db.user_by_name("u-auditor").await.unwrap().unwrap()
        }
    };
    let (auditor_session, acsrf) = s
        .state
        .db
        .create_session(&auditor, "127.0.0.1")
        .await
        .map(|(t, ss)| (t, ss.csrf))
        .unwrap();
    let audit = s
        .state
        .db
        .create_audit(
            &biaozhun::db::audits::NewAudit {
                name: "回访测试审核",
                standards: &[
                    "DB3301/T 0441—2024".to_string(),
                    "T/ZTAC 001.2—2023".to_string(),
                ],
                period_from: "2023-01-01",
                period_to: "2023-12-31",
                outlets: &[],
                max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
            },
            &auditor,
        )
        .await
        .unwrap();
    let as_auditor =
        |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={auditor_session}"));
    let run = || async {
        let r = as_auditor(c.post(format!("{}/audits/{}/run", s.base, audit.id)))
            .form(&[("csrf", acsrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = as_auditor(c.get(format!("{}/audits/{}", s.base, audit.id)))
            .body_text()
            .await;
        let i = page
            .find("近12个月内完成满意度调查")
            .expect("the survey metric is listed");
        page[i..i + page[i..].find("</tr>").unwrap()].to_string()
    };
    let row = run().await;
    assert!(
        row.contains("不符合") && row.contains("无符合条件的记录"),
        "{row}"
    );
    let t0 = biaozhun::audit::time::parse_date_or_instant("2023-11-01", 480).unwrap() / 1_000_000;
    let many: Vec<biaozhun::survey::Response> = (0..320)
        .map(|i| {
            let score = if i % 5 < 3 { 0 } else { 1 }; // 3/5 非常满意, 2/5 满意: mean 4.6
            biaozhun::survey::Response {
                source: format!("row {}", i + 2),
                channel: biaozhun::survey::Channel::Phone,
                submitted_at: Some(t0 + i as i64 * 600),
                duration_s: Some(180),
                contact: Some(format!("139****{i:04}")),
                answers: [("q1", score), ("q2", score), ("q3", score)]
                    .into_iter()
                    .map(|(q, a)| (q.to_string(), biaozhun::survey::Answer::Choice(a)))
                    .collect(),
            }
        })
        .collect();
    let big = s
        .state
        .db
        .survey_save(
            &biaozhun::survey::Survey::from_yaml(
                &def.replace("test-satisfaction", "annual-2023"),
                "t",
            )
            .unwrap(),
            &def.replace("test-satisfaction", "annual-2023"),
            None,
            None,
        )
        .await
        .unwrap()
        .0;
    s.state
        .db
        .survey_import(
            big.id,
            "annual.csv",
            &"a".repeat(64),
            "按选项文本",
            &many,
            None,
        )
        .await
        .unwrap();
    let row = run().await;
    assert!(row.contains("4.60") && !row.contains("不符合"), "{row}");

    // The return visit: a stratified sample of the audit period's orders, a
    // questionnaire linked to the audited clauses, answers back in the audit.
    let r = as_auditor(c.post(format!("{}/audits/{}/return-visit", s.base, audit.id)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("margin", "0.1"),
            ("seed", "7"),
            ("interviewers", "王芳, 李静"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let at = location(&r);
    let rid: i64 = at["/surveys/".len()..at.find('?').unwrap()]
        .parse()
        .unwrap();
    let sample = s.state.db.survey_sample(rid).await.unwrap();
    assert!(
        sample.len() >= 60 && sample.len() <= 100,
        "±10 points at 95%: about 90 calls, got {}",
        sample.len()
    );
    assert!(
        sample
            .iter()
            .all(|r| r.phone.is_empty() || r.phone.contains("****")),
        "numbers are masked"
    );
    assert!(sample.iter().any(|r| r.interviewer == "李静"));
    let rv = s
        .state
        .db
        .survey(rid)
        .await
        .unwrap()
        .unwrap()
        .survey()
        .unwrap();
    assert!(
        rv.question("outlet").is_none(),
        "T/ZTAC 002 is not in scope: its question is dropped"
    );
    assert_eq!(
        rv.question("code-shown").unwrap().clauses,
        ["T/ZTAC 001.2—2023#13.2"]
    );
    assert_eq!(
        rv.question("complaint").unwrap().clauses,
        ["T/ZTAC 001.2—2023#18.2", "DB3301/T 0441—2024#8.4"]
    );
    // A second draw for the same audit is refused rather than replacing the list.
    let again = as_auditor(c.post(format!("{}/audits/{}/return-visit", s.base, audit.id)))
        .form(&[("csrf", acsrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    // One interview for the first order on the list.
    let order = sample[0].order_id.clone();
    let page = as_auditor(c.get(format!("{}/surveys/{rid}/phone?order={order}", s.base)))
        .body_text()
        .await;
    assert!(page.contains(&format!("value=\"{order}\"")));
    let r = as_auditor(c.post(format!("{}/surveys/{rid}/phone", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("order", order.as_str()),
            ("phone", sample[0].phone.as_str()),
            ("q_overall", "0"),
            ("q_response", "0"),
            ("q_code-shown", "1"),
            ("q_service", "1"),
            ("q_acceptance", "0"),
            ("q_review", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let sample = s.state.db.survey_sample(rid).await.unwrap();
    assert!(
        sample[0].response_id.is_some(),
        "the list shows the call as made"
    );
    let page = as_auditor(c.get(format!("{}/audits/{}", s.base, audit.id)))
        .body_text()
        .await;
    assert!(
        page.contains("T/ZTAC 001.2—2023#13.2")
            && page.contains("“服务人员上门时是否主动出示安心码并请您扫码核验”1 人作答，最多为“出示但未扫码”100.0%"),
        "the answers are evidence for their clauses"
    );
    // … and in the report's clause table.
    let csv = as_auditor(c.get(format!("{}/audits/{}/report/csv", s.base, audit.id)))
        .body_text()
        .await;
    let line = csv
        .lines()
        .find(|l| l.contains("13.2") && l.contains("T/ZTAC 001.2"))
        .expect("clause 13.2 in the report");
    assert!(
        line.contains("回访问卷") && line.contains("出示但未扫码"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surveys_on_sqlite() {
    survey_flow(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surveys_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    survey_flow(start(Some(url)).await).await;
}

async fn expert(s: &Server, name: &str, display: &str) -> (i64, String, String) {
    let user = s
        .state
        .db
        .create_user(
            &NewUser {
                username: name,
                display_name: display,
                password: "a long password",
                role: Role::Expert,
                department: "",
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    let (token, session) = s.state.db.create_session(&user, "127.0.0.1").await.unwrap();
    (user.id, token, session.csrf)
}

/// The acceptance review over HTTP: experts score independently — nobody, through
/// the page, the API or the report, sees another's scores before all have submitted
/// — then the aggregate (hand-checked, with a missing score), the leader's opinion
/// and the 验收评估报告.
async fn acceptance_flow(s: Server) {
    let c = client();
    let (admin, acsrf) = session_for(&s, Role::Admin).await;
    let as_admin = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={admin}"));
    let r = as_admin(c.post(format!("{}/acceptance/projects", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("name", "数字家政管理与服务"),
            ("kind", "省级服务业标准化试点"),
            ("field", "家政服务"),
            ("started", "2021-10-01"),
            ("planned_end", "2023-10-31"),
            ("undertaker", "临安家政服务集团（示例）"),
            ("supervisor", "杭州市市场监督管理局（示例）"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (a, a_tok, a_csrf) = expert(&s, "zhang", "张教授").await;
    let (b, b_tok, b_csrf) = expert(&s, "li", "李研究员").await;
    let (cc, c_tok, c_csrf) = expert(&s, "wang", "王高工").await;
    let (d_id, d_tok, _) = expert(&s, "zhao", "赵专家").await;
    let project = s.state.db.projects().await.unwrap().last().unwrap().id;
    let r = as_admin(c.post(format!("{}/acceptance/reviews", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("project", project.to_string().as_str()),
            ("title", "数字家政试点验收"),
            ("date", "2023-11-20"),
            ("expert", a.to_string().as_str()),
            ("expert", b.to_string().as_str()),
            ("expert", cc.to_string().as_str()),
            ("leader", a.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = location(&r);
    let id: i64 = at.rsplit('/').next().unwrap().parse().unwrap();
    // A review's own pass mark and trimming are written into its copy of the table.
    let r = as_admin(c.post(format!("{}/acceptance/reviews", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("project", project.to_string().as_str()),
            ("expert", d_id.to_string().as_str()),
            ("leader", d_id.to_string().as_str()),
            ("pass_mark", "85"),
            ("trim", "1"),
        ])
        .send()
        .await
        .unwrap();
    let other: i64 = location(&r).rsplit('/').next().unwrap().parse().unwrap();
    let copy = s
        .state
        .db
        .review(other)
        .await
        .unwrap()
        .unwrap()
        .scoring_table;
    let t = biaozhun::acceptance::scoring::Table::from_yaml(&copy, "copy").unwrap();
    assert_eq!((t.pass_mark, t.trim), (85.0, true));
    let page = as_admin(c.post(format!("{}/acceptance/reviews", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("project", project.to_string().as_str()),
            ("expert", d_id.to_string().as_str()),
            ("leader", d_id.to_string().as_str()),
            ("pass_mark", "120"),
        ])
        .body_text()
        .await;
    assert!(
        page.contains("pass_mark 120 must be between 0 and the table&#x27;s total 100")
            || page.contains("pass_mark 120"),
        "{page}"
    );
    let table = biaozhun::acceptance::scoring::Table::from_yaml(
        &std::fs::read_to_string(format!(
            "{}/acceptance/scoring-table.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
        "t",
    )
    .unwrap();
    let get = |tok: &str, path: String| {
        c.get(format!("{}{path}", s.base))
            .header("cookie", format!("bz_session={tok}"))
    };
    let post = |tok: &str, path: String| {
        c.post(format!("{}{path}", s.base))
            .header("cookie", format!("bz_session={tok}"))
    };
    // A sheet: every item at max − `less`, except `skip` (left out, with a reason).
    let sheet = |csrf: &str, less: f64, skip: Option<&str>, action: &str, note: &str| {
        let mut f: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.into()),
            ("action".into(), action.into()),
        ];
        for i in table.items() {
            if Some(i.id.as_str()) == skip {
                f.push((format!("c_{}", i.id), "回避：本人参与过该项工作".into()));
                continue;
            }
            f.push((format!("s_{}", i.id), format!("{}", i.max - less)));
            f.push((format!("c_{}", i.id), note.into()));
        }
        f
    };
    // 张教授's phone form; a score over the maximum and an item left out are refused.
    let page = get(&a_tok, format!("/acceptance/reviews/{id}"))
        .body_text()
        .await;
    assert!(
        page.contains("id=\"score-form\"") && page.contains("评分细则"),
        "{page}"
    );
    let mut bad = sheet(&a_csrf, 0.0, None, "submit", "");
    bad.retain(|(k, _)| k != "s_org-plan");
    for (k, v) in bad.iter_mut() {
        if k == "s_org-leading-group" {
            *v = "3.5".into();
        }
    }
    let r = post(&a_tok, format!("/acceptance/reviews/{id}/scores"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(text.contains("得分 3.5 超出范围（0 至 3）"), "{text}");
    assert!(
        text.contains("未评分：请评分，或在意见栏说明不评分的原因"),
        "{text}"
    );
    // 李研究员 saves a draft with a telling comment; 张教授 submits.
    let r = post(&b_tok, format!("/acceptance/reviews/{id}/scores"))
        .form(&sheet(
            &b_csrf,
            0.5,
            Some("org-funding"),
            "save",
            "李的草稿意见",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&r),
        format!("/acceptance/reviews/{id}?saved=draft")
    );
    let r = post(&a_tok, format!("/acceptance/reviews/{id}/scores"))
        .form(&sheet(&a_csrf, 0.0, None, "submit", "张的意见"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&r),
        format!("/acceptance/reviews/{id}?saved=submitted")
    );
    // Independence, through every route, for everyone.
    for (who, tok) in [("张", &a_tok), ("李", &b_tok), ("admin", &admin)] {
        let page = get(tok, format!("/acceptance/reviews/{id}"))
            .body_text()
            .await;
        let api = get(tok, format!("/api/v1/acceptance/reviews/{id}"))
            .body_json()
            .await;
        assert!(
            api["sheets"].is_null() && api["aggregate"].is_null(),
            "{who}: {api}"
        );
        let other = if who == "李" {
            "张的意见"
        } else {
            "李的草稿意见"
        };
        assert!(
            !page.contains(other) && !api.to_string().contains(other),
            "{who} sees another's sheet"
        );
        assert!(!page.contains("id=\"results\""), "{who}");
        let pdf = get(tok, format!("/acceptance/reviews/{id}/report.pdf"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            pdf.status(),
            StatusCode::CONFLICT,
            "{who}: no report before all submit"
        );
    }
    let api = get(&b_tok, format!("/api/v1/acceptance/reviews/{id}"))
        .body_json()
        .await;
    assert!(
        api["own"].to_string().contains("李的草稿意见"),
        "one's own draft is there"
    );
    assert_eq!(
        api["members"][0]["submitted"], true,
        "progress is visible, scores are not"
    );
    // Someone not on the panel sees nothing.
    assert_eq!(
        get(&d_tok, format!("/acceptance/reviews/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&d_tok, format!("/api/v1/acceptance/reviews/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&d_tok, format!("/acceptance/reviews/{id}/report.pdf"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // A submitted sheet is final; the opinion waits for everyone.
    let r = post(&a_tok, format!("/acceptance/reviews/{id}/scores"))
        .form(&sheet(&a_csrf, 1.0, None, "save", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = post(&a_tok, format!("/acceptance/reviews/{id}/opinion"))
        .form(&[("csrf", a_csrf.as_str()), ("opinion", "太早")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // The others submit: 李 leaves 经费 out (回避), 王 scores every item max − 1.
    post(&b_tok, format!("/acceptance/reviews/{id}/scores"))
        .form(&sheet(
            &b_csrf,
            0.5,
            Some("org-funding"),
            "submit",
            "李的意见",
        ))
        .send()
        .await
        .unwrap();
    post(&c_tok, format!("/acceptance/reviews/{id}/scores"))
        .form(&sheet(&c_csrf, 1.0, None, "submit", ""))
        .send()
        .await
        .unwrap();
    // Every item: (max + max − 0.5 + max − 1) ÷ 3 = max − 0.5, and 经费 (2 + 1) ÷ 2
    // = 1.5 = max − 0.5 as well: total 100 − 24 × 0.5 = 88 → 通过. Experts' own
    // totals: 100; 100 − 23 × 0.5 − 2 = 86.5; 100 − 24 = 76. Spread 1 is flagged on
    // items up to 3 points (0.3 × 3 = 0.9 < 1), not on 6-point items.
    let api = get(&b_tok, format!("/api/v1/acceptance/reviews/{id}"))
        .body_json()
        .await;
    let agg = &api["aggregate"];
    assert!(
        (agg["total"].as_f64().unwrap() - 88.0).abs() < 1e-9,
        "{agg}"
    );
    assert_eq!(agg["conclusion"], "通过");
    assert_eq!(agg["expert_totals"], serde_json::json!([100.0, 86.5, 76.0]));
    let item = |id: &str| {
        agg["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        item("org-funding")["missing"],
        serde_json::json!(["李研究员"])
    );
    assert_eq!(item("org-funding")["score"], 1.5);
    assert_eq!(item("org-leading-group")["spread_flag"], true);
    assert_eq!(item("sys-structure")["spread_flag"], false);
    let page = get(&admin, format!("/acceptance/reviews/{id}"))
        .body_text()
        .await;
    assert!(
        page.contains("综合得分 <strong>88</strong>") && page.contains("未评：李研究员"),
        "{page}"
    );
    // Only the leader writes the opinion.
    let r = post(&b_tok, format!("/acceptance/reviews/{id}/opinion"))
        .form(&[("csrf", b_csrf.as_str()), ("opinion", "我来写")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = post(&a_tok, format!("/acceptance/reviews/{id}/opinion"))
        .form(&[
            ("csrf", a_csrf.as_str()),
            ("opinion", "专家组一致同意该项目通过验收。"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pdf = get(&c_tok, format!("/acceptance/reviews/{id}/report.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let text = super::pdf::flat_text(pdf.bytes().await.unwrap());
    for needle in [
        "验收评估报告",
        "数字家政管理与服务",
        "验收结论：通过",
        "综合得分88分",
        "张教授（组长）",
        "李研究员",
        "王高工",
        "专家组一致同意该项目通过验收。",
        "专家组签字",
        "未评：李研究员",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }

    // The award application: drafted from the project's data, counted the form's
    // way, refused for export while a section is over its limit.
    let award = format!("/acceptance/projects/{project}/award/award-pilot");
    let page = as_admin(c.get(format!("{}{award}", s.base)))
        .body_text()
        .await;
    assert!(
        page.contains("data-limit=\"800\"") && page.contains("0 / 500"),
        "{page}"
    );
    let r = as_admin(c.post(format!("{}{award}", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("action", "draft"),
            ("t_org-intro", "临安区家政服务龙头企业。"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let texts = s
        .state
        .db
        .award_texts(project, "award-pilot")
        .await
        .unwrap();
    assert_eq!(
        texts["org-intro"], "临安区家政服务龙头企业。",
        "what was typed is kept"
    );
    let intro = &texts["project-intro"];
    assert!(
        intro.contains("“数字家政管理与服务”为省级服务业标准化试点，于2021-10-01立项")
            && intro.contains("综合得分88.0分，验收结论为通过"),
        "{intro}"
    );
    // 801 characters (spaces and line breaks not counted) is one too many.
    let long = format!("{}\n\n {}", "字".repeat(400), "字".repeat(401));
    let mut form: Vec<(String, String)> = texts
        .iter()
        .map(|(k, v)| (format!("t_{k}"), v.clone()))
        .collect();
    form.retain(|(k, _)| k != "t_org-intro");
    form.push(("t_org-intro".into(), long.clone()));
    form.push(("csrf".into(), acsrf.clone()));
    form.push(("action".into(), "save".into()));
    as_admin(c.post(format!("{}{award}", s.base)))
        .form(&form)
        .send()
        .await
        .unwrap();
    let page = as_admin(c.get(format!("{}{award}", s.base)))
        .body_text()
        .await;
    assert!(
        page.contains("counter over") && page.contains("801 / 800"),
        "saved, shown over the limit"
    );
    for format in ["pdf", "docx"] {
        let r = as_admin(c.get(format!("{}{award}/{format}", s.base)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "{format}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("“申报组织简介”801 字，超过 800 字的限制 1 字")
        );
    }
    form.retain(|(k, _)| k != "t_org-intro");
    form.push(("t_org-intro".into(), long.replacen('字', "", 1)));
    as_admin(c.post(format!("{}{award}", s.base)))
        .form(&form)
        .send()
        .await
        .unwrap();
    let docx = as_admin(c.get(format!("{}{award}/docx", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(docx.status(), StatusCode::OK);
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(docx.bytes().await.unwrap().to_vec())).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
        .unwrap();
    assert!(
        xml.contains("申报组织简介（限800字，已用800字）") && xml.contains("验收结论为通过"),
        "{xml}"
    );
    let pdf = as_admin(c.get(format!("{}{award}/pdf", s.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let text = super::pdf::flat_text(pdf.bytes().await.unwrap());
    assert!(
        text.contains("浙江省标准创新贡献奖申报书（标准化试点示范项目类）")
            && text.contains("（限800字，已用800字）")
            && text.contains("试点项目简介"),
        "{text}"
    );
    // The project's file: indicators (entered, and live from Biaozhun's data),
    // the evidence checklist and the self-evaluation report.
    let pp = format!("/acceptance/projects/{project}");
    let page = as_admin(c.get(format!("{}{pp}", s.base))).body_text().await;
    assert!(page.contains("尚缺：立项/验收证明材料（无材料）"), "{page}");
    let pdf_bytes = b"%PDF-1.4 acceptance notice".to_vec();
    let upload = |bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", acsrf.clone())
            .text("category", "立项/验收证明材料")
            .text("note", "省市场监管局立项通知")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("立项通知.pdf"),
            );
        as_admin(c.post(format!("{}{pp}/evidence", s.base))).multipart(form)
    };
    let r = upload(pdf_bytes.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let again = upload(pdf_bytes.clone()).body_text().await;
    assert!(
        again.contains("已在此类别中"),
        "the same file once per category"
    );
    let files = s.state.db.evidence_of(project).await.unwrap();
    assert_eq!(files.len(), 1);
    let sha = files[0].sha256.clone();
    let r = as_admin(c.post(format!("{}{pp}/evidence/done", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("category", "立项/验收证明材料"),
            ("done", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = as_admin(c.get(format!("{}{pp}", s.base))).body_text().await;
    assert!(
        !page.contains("立项/验收证明材料（无材料）") && page.contains("技术水平（无材料）"),
        "{page}"
    );
    // Experts read the evidence; a hash that is not this project's is not served.
    let r = get(&a_tok, format!("{pp}/evidence/{sha}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf_bytes);
    let r = get(&a_tok, format!("{pp}/evidence/{}", "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for (name, unit, dir, base, target, actual, source, ev) in [
        (
            "首次保洁平均响应时间",
            "分钟",
            "down",
            "5760",
            "30",
            "20",
            "manual",
            sha.as_str(),
        ),
        (
            "纠纷投诉率变化",
            "%",
            "down",
            "0",
            "-15",
            "-12",
            "manual",
            "",
        ),
        (
            "标准库中的标准",
            "项",
            "up",
            "3",
            "10",
            "",
            "live:standards-total",
            "",
        ),
        ("满意度", "%", "up", "", "90", "", "live:survey-csat", ""),
        (
            "服务提供标准",
            "项",
            "up",
            "0",
            "2",
            "",
            "live:standards-provision",
            "",
        ),
    ] {
        let r = as_admin(c.post(format!("{}{pp}/indicators", s.base)))
            .form(&[
                ("csrf", acsrf.as_str()),
                ("name", name),
                ("unit", unit),
                ("direction", dir),
                ("baseline", base),
                ("target", target),
                ("actual", actual),
                ("source", source),
                ("evidence", ev),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
    }
    let standards = s.state.content().coll.standards.len();
    let page = as_admin(c.get(format!("{}{pp}", s.base))).body_text().await;
    let row = |name: &str| {
        let i = page.find(&format!("<td>{name}</td>")).unwrap();
        page[i..i + page[i..].find("</tr>").unwrap()].to_string()
    };
    assert!(
        row("首次保洁平均响应时间").contains("已达成")
            && row("首次保洁平均响应时间").contains("证明材料")
    );
    assert!(
        row("纠纷投诉率变化").contains("未达成"),
        "−12% is short of −15%"
    );
    let live = row("标准库中的标准");
    assert!(
        live.contains(&format!("<td>{standards}</td>"))
            && live.contains("平台数据")
            && live.contains("已达成"),
        "{live}"
    );
    assert!(
        row("满意度").contains("（暂无数据）"),
        "no survey answered yet"
    );
    let provision = s
        .state
        .content()
        .coll
        .standards
        .iter()
        .filter(|x| {
            x.meta
                .category
                .as_deref()
                .is_some_and(|c| c.starts_with("服务提供标准/"))
        })
        .count();
    assert!(provision >= 2, "the library has 服务提供标准");
    assert!(
        row("服务提供标准").contains(&format!("<td>{provision}</td>")),
        "{}",
        row("服务提供标准")
    );
    let r = as_admin(c.post(format!("{}{pp}/narrative", s.base)))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("n_organisation", "成立了由总经理任组长的试点领导小组。"),
            ("n_problems", "部分网点信息化水平不高。"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pdf = get(&a_tok, format!("{pp}/self-evaluation.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let text = super::pdf::flat_text(pdf.bytes().await.unwrap());
    for needle in [
        "项目实施自我评价报告",
        "组织实施情况",
        "成立了由总经理任组长的试点领导小组。",
        &format!("标准库共有标准{standards}项"),
        "首次保洁平均响应时间",
        "已达成",
        "未达成",
        "部分网点信息化水平不高。",
        "立项/验收证明材料1齐全",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    // Experts do not write applications.
    let r = c
        .get(format!("{}{award}", s.base))
        .header("cookie", format!("bz_session={a_tok}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_on_sqlite() {
    acceptance_flow(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    acceptance_flow(start(Some(url)).await).await;
}

/// An audit over an order log that reads incompletely: the page and the report
/// show what was read and skipped, and the process clauses get no 符合 —
/// 数据不完整，不予结论 — while the auditor's own limit decides.
async fn audit_on_an_incomplete_log(s: Server) {
    write_platform(&s, 600);
    // 30 unreadable rows in ~6,000: above 0.1 %, within 5 %.
    let log = s.state.platform_dir.join("orders.csv");
    let mut text = std::fs::read_to_string(&log).unwrap();
    for i in 0..30 {
        text.push_str(&format!("OLBAD{i},派单,2023-02-30T09:00:00+08:00\n"));
    }
    std::fs::write(&log, text).unwrap();
    let c = client();
    let (token, csrf) = session_for(&s, Role::Auditor).await;
    let as_me = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={token}"));
    let create = |name: &'static str, limit: &'static str| {
        as_me(c.post(format!("{}/audits", s.base))).form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("standards", "T/ZTAC 001.2—2023"),
            ("from", "2023-01-01"),
            ("to", "2023-12-31"),
            ("max_skipped", limit),
        ])
    };
    let mut ids = Vec::new();
    for (name, limit) in [("严格的审核", "0.1"), ("宽松的审核", "5%")] {
        let r = create(name, limit).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        let id: i64 = location(&r).trim_start_matches("/audits/").parse().unwrap();
        let r = as_me(c.post(format!("{}/audits/{id}/run", s.base)))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        ids.push(id);
    }
    let strict = s.state.db.audit(ids[0]).await.unwrap().unwrap();
    let src = &strict.sources[0];
    assert_eq!(src.file, "orders.csv");
    assert_eq!(src.stats.rows_skipped, 30);
    assert!(
        !src.data.conclusive && src.data.too_many_skipped,
        "{:?}",
        src.data
    );
    let verdicts = s.state.db.clause_verdicts(ids[0]).await.unwrap();
    use biaozhun::db::audits::Verdict;
    assert!(
        verdicts.iter().any(|v| v.verdict == Verdict::Incomplete),
        "{verdicts:?}"
    );
    assert!(
        !verdicts.iter().any(|v| v.verdict == Verdict::Conform),
        "no process clause is 符合 on incomplete data"
    );
    let page = as_me(c.get(format!("{}/audits/{}", s.base, ids[0])))
        .body_text()
        .await;
    for want in [
        "数据读取情况",
        "数据不完整，不予结论",
        "无法读取而跳过的行",
        "字段个数与表头不符",
        "超过允许的 0.1 %",
    ] {
        assert!(page.contains(want), "{want}: {page}");
    }
    assert!(!page.contains("bad timestamp"), "no internal reason keys");
    // With 5 % allowed the same log supports verdicts.
    let lenient = s.state.db.audit(ids[1]).await.unwrap().unwrap();
    assert!(lenient.sources[0].data.conclusive);
    assert!((lenient.max_skipped - 0.05).abs() < 1e-9);
    let verdicts = s.state.db.clause_verdicts(ids[1]).await.unwrap();
    assert!(!verdicts.iter().any(|v| v.verdict == Verdict::Incomplete));
    // A limit that is not a percentage is refused, in Chinese.
    let r = create("坏的比例", "abc").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("百分数"));
    // The report says the same.
    let gathered = biaozhun::report::audit::gather(
        &biaozhun::report::audit::Sources {
            db: &s.state.db,
            coll: &biaozhun::standard::Collection::load(
                &[std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards")],
                &[],
            )
            .unwrap(),
            checks: &biaozhun::audit::checks::CheckSet::default(),
            workflow: &[],
            evidence: None,
            outlets: Vec::new(),
        },
        ids[0],
        0,
    )
    .await
    .unwrap();
    let rep = &gathered.report;
    assert!(
        rep.summary.data_warning.contains("orders.csv"),
        "{}",
        rep.summary.data_warning
    );
    assert!(
        rep.summary.conclusion.contains("因数据不完整不予结论"),
        "{}",
        rep.summary.conclusion
    );
    assert_eq!(rep.method.reads.len(), 1);
    assert_eq!(rep.method.reads[0].status, "数据不完整，不予结论");
    let pdf = as_me(c.get(format!("{}/audits/{}/report/pdf", s.base, ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let text = super::pdf::flat_text(pdf.bytes().await.unwrap());
    for want in [
        "数据读取情况",
        "数据不完整，不予结论",
        "字段个数与表头不符",
        "因数据不完整不予结论",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(
        !text.contains("wrong number of fields"),
        "no internal reason keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_on_an_incomplete_log_on_sqlite() {
    audit_on_an_incomplete_log(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_on_an_incomplete_log_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    audit_on_an_incomplete_log(start(Some(url)).await).await;
}
