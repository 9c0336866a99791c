//! The real `biaozhun` binary: output snapshots (insta) and exit codes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn biaozhun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biaozhun"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BIAOZHUN_STANDARDS")
        .output()
        .expect("run biaozhun")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

#[test]
fn check_shipped_standards_is_clean() {
    let o = biaozhun(&["check", "standards/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    insta::assert_snapshot!(stdout(&o), @"checked 14 files (14 standards): 0 errors, 0 warnings");
}

#[test]
fn check_reports_rustc_style_diagnostics_and_fails() {
    let o = biaozhun(&["check", "tests/fixtures/lint/dangling-xref.md"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("check_dangling_xref", stdout(&o));
}

#[test]
fn check_json_is_json_lines_with_summary() {
    let o = biaozhun(&["check", "--json", "tests/fixtures/lint/discouraged-form.md"]);
    assert_eq!(o.status.code(), Some(0), "warnings alone do not fail");
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["type"], "diagnostic");
    assert_eq!(lines[0]["code"], "discouraged-form");
    assert_eq!(lines[0]["severity"], "warning");
    assert_eq!(lines[0]["line"], 51);
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["warnings"], 2);
    insta::assert_snapshot!("check_json", stdout(&o));
}

#[test]
fn deny_warnings_fails_on_warnings() {
    let o = biaozhun(&["check", "-W", "tests/fixtures/lint/discouraged-form.md"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn check_of_a_missing_path_is_a_usage_error() {
    let o = biaozhun(&["check", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`no/such/dir` does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn list_table() {
    let o = biaozhun(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("list", stdout(&o));
}

#[test]
fn list_json_has_counts() {
    let o = biaozhun(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 14);
    let p2 = arr
        .iter()
        .find(|s| s["code"] == "T/ZTAC 001.2—2023")
        .expect("001.2");
    assert!(p2["provisions"]["requirement"].as_u64().unwrap_or(0) >= 40);
    assert_eq!(p2["slug"], "t-ztac-001.2-2023");
}

#[test]
fn show_accepts_any_dash_and_slug() {
    let a = stdout(&biaozhun(&["show", "T/ZTAC 001.2-2023"]));
    let b = stdout(&biaozhun(&["show", "T/ZTAC 001.2—2023"]));
    let c = stdout(&biaozhun(&["show", "t-ztac-001.2-2023"]));
    assert!(
        a.starts_with("T/ZTAC 001.2—2023  家政服务数字化平台建设规范 第2部分：业务流程"),
        "{a}"
    );
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn show_one_clause_with_explain() {
    let o = biaozhun(&[
        "show",
        "tests/fixtures/lint/good.md#4",
        "--dir",
        "tests/fixtures/lint",
    ]);
    // a path is not a code: usage error with a hint
    assert_eq!(o.status.code(), Some(2));
    let o = biaozhun(&[
        "show",
        "Q/BZ 001-2025#4",
        "--explain",
        "--dir",
        "tests/fixtures/lint/duplicate-code",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("show_clause_explain", stdout(&o));
}

#[test]
fn show_json_is_the_full_model() {
    let o = biaozhun(&["show", "T/ZTAC 001.2—2023#5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["id"], "T/ZTAC 001.2—2023#5");
    assert!(v["children"].as_array().is_some_and(|c| !c.is_empty()));
    let first = &v["children"][0]["provisions"][0];
    assert!(
        first["id"]
            .as_str()
            .unwrap_or("")
            .starts_with("T/ZTAC 001.2—2023#5.1/p")
    );
}

#[test]
fn show_unknown_standard_or_clause_suggests() {
    let o = biaozhun(&["show", "T/ZTAC 001"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean"), "{}", stderr(&o));
    let o = biaozhun(&["show", "T/ZTAC 002-2023#99.9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no clause `99.9`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn provisions_text_and_json() {
    let o = biaozhun(&[
        "provisions",
        "--text",
        "红码人员不应派单。平台应用大数据技术。网点可提供助餐服务；家政员必须持证上岗。",
    ]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("provisions_text", stdout(&o));
    let o = biaozhun(&["provisions", "--json", "--text", "应急预案宜每年演练1次。"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v[0]["type"], "recommendation");
    assert_eq!(v[0]["trigger"], "宜");
    assert_eq!(v[0]["negative"], false);
}

#[test]
fn provisions_from_stdin_and_file() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_biaozhun"))
        .args(["provisions", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all("不宜在夜间派单\n系统能够识别红码".as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("推荐·否定") && text.contains("陈述·能力"),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("gbk.txt");
    std::fs::write(&f, [0xBA, 0xEC, 0xC2, 0xEB]).expect("write");
    let o = biaozhun(&["provisions", f.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid UTF-8"), "{}", stderr(&o));
    assert!(Path::new(&f).exists());
}

#[test]
fn search_and_index_rebuild() {
    let dir = tempfile::tempdir().expect("tmp");
    let ix = dir.path().join("ix");
    let ix = ix.to_str().expect("path");
    let o = biaozhun(&["index", "rebuild", "--dir", "standards", "--index", ix]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("indexed 14 standards"),
        "{}",
        stdout(&o)
    );
    let o = biaozhun(&["search", "红码 派单", "--dir", "standards", "--index", ix]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("T/ZTAC 001.2—2023#10.2") && out.contains("【红码】"),
        "{out}"
    );
    let o = biaozhun(&[
        "search",
        "安心码 type:要求",
        "--json",
        "--limit",
        "3",
        "--dir",
        "standards",
        "--index",
        ix,
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["hits"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["hits"][0]["doc_type"], "provision");
    let o = biaozhun(&["search", "color:red", "--dir", "standards", "--index", ix]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("valid filters are"), "{}", stderr(&o));
    // A missing index is built on first search.
    std::fs::remove_dir_all(dir.path().join("ix")).expect("rm");
    let o = biaozhun(&["search", "应急预案", "--dir", "standards", "--index", ix]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("应急预案"));
}

#[test]
fn demo_platform_then_audit_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("platform");
    let o = biaozhun(&[
        "demo",
        "platform",
        "--orders",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in [
        "agencies.csv",
        "workers.csv",
        "outlets.csv",
        "orders.csv",
        "faults.json",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    assert!(!dir.path().join("platform.partial").exists());
    let o = biaozhun(&["audit", "data", out.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["counts"]["outlets"], 18);
    assert_eq!(v["counts"]["workers"], 3500);
    assert_eq!(v["snapshot"].as_str().unwrap().len(), 64);
    // One corrupted credit code: one problem, where it is, exit 1.
    let agencies = std::fs::read_to_string(out.join("agencies.csv")).unwrap();
    let line2 = agencies.lines().nth(1).unwrap().to_string();
    let code = line2.split(',').nth(2).unwrap().to_string();
    let mut broken = code.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == '0' { '1' } else { '0' });
    std::fs::write(
        out.join("agencies.csv"),
        agencies.replacen(&code, &broken, 1),
    )
    .unwrap();
    let o = biaozhun(&["audit", "data", out.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a bad identifier is a finding, not a failed import"
    );
    let text = stdout(&o);
    assert!(
        text.contains("warning: ") && text.contains("agencies.csv:2: credit_code:"),
        "{text}"
    );
    // A structural problem fails the import: a dangling reference.
    let workers = std::fs::read_to_string(out.join("workers.csv")).unwrap();
    std::fs::write(out.join("workers.csv"), workers.replacen(",A", ",Z", 1)).unwrap();
    let o = biaozhun(&["audit", "data", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("workers.csv:2: agency_id:"), "{text}");
    assert!(text.contains("1 problem(s)"), "{text}");
    // The generator refuses to write over an existing export.
    let o = biaozhun(&["demo", "platform", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
}

#[test]
fn audit_run_stores_an_audit_that_audit_show_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = biaozhun::db::Db::open(&biaozhun::db::sqlite_url(&data.join("biaozhun.db")))
            .await
            .unwrap();
        db.create_user(
            &biaozhun::db::accounts::NewUser {
                username: "auditor1",
                display_name: "审核员丙",
                password: "a long password",
                role: biaozhun::db::accounts::Role::Auditor,
                department: "",
            },
            &biaozhun::db::accounts::Actor::default(),
        )
        .await
        .unwrap();
        db.pool.close().await;
    });
    let platform = dir.path().join("platform");
    let o = biaozhun(&[
        "demo",
        "platform",
        "--orders",
        "0",
        "--out",
        platform.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let data_dir = data.to_str().unwrap();
    let o = biaozhun(&[
        "audit",
        "run",
        "--name",
        "2023年度网点审核",
        "--standards",
        "T/ZTAC 002-2023",
        "--from",
        "2023-01-01",
        "--to",
        "2023-12-31",
        "--data",
        platform.to_str().unwrap(),
        "--as",
        "auditor1",
        "--data-dir",
        data_dir,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let run: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = run["audit"].as_i64().unwrap();
    let o = biaozhun(&["audit", "show", &id.to_string(), "--data-dir", data_dir]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("2023年度网点审核") && text.contains("T/ZTAC 002—2023#4.2"),
        "{text}"
    );
    assert!(text.contains("不符合") && text.contains("未评价"), "{text}");
    // Its report in every format, each file written whole.
    let id = id.to_string();
    for (format, magic) in [
        ("pdf", &b"%PDF-"[..]),
        ("xlsx", b"PK\x03\x04"),
        ("csv", "\u{feff}条款,标准".as_bytes()),
        ("oscal", b"{\n  \"assessment-results\""),
    ] {
        let file = dir.path().join(format!("report.{format}"));
        let o = biaozhun(&[
            "report",
            "audit",
            &id,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
            "--data-dir",
            data_dir,
            "--strict",
        ]);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        assert!(stderr(&o).contains("BZSH-"), "{}", stderr(&o));
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            bytes.starts_with(magic),
            "{format}: {:?}",
            &bytes[..bytes.len().min(20)]
        );
    }
    // An unknown audit, and an output that cannot be written, say so and leave
    // nothing behind.
    let out = dir.path().join("nowhere").join("r.pdf");
    let o = biaozhun(&[
        "report",
        "audit",
        "99",
        "-o",
        out.to_str().unwrap(),
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no audit #99"), "{}", stderr(&o));
    let o = biaozhun(&[
        "report",
        "audit",
        &id,
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nowhere"), "{}", stderr(&o));
    assert!(!dir.path().join("nowhere").exists());
    let o = biaozhun(&[
        "report",
        "audit",
        &id,
        "-o",
        "x.pdf",
        "--rules",
        "no-such-rules",
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("rules `no-such-rules` do not exist"),
        "{}",
        stderr(&o)
    );
    // A user who may not audit, and a missing database, are clear errors.
    let o = biaozhun(&[
        "audit",
        "run",
        "--name",
        "x",
        "--standards",
        "T/ZTAC 002-2023",
        "--from",
        "2023-01-01",
        "--to",
        "2023-12-31",
        "--data",
        platform.to_str().unwrap(),
        "--as",
        "nobody",
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--as nobody"), "{}", stderr(&o));
    let o = biaozhun(&[
        "audit",
        "show",
        "1",
        "--data-dir",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("biaozhun serve"), "{}", stderr(&o));
}

/// The real server killed with SIGKILL in the middle of a stream of 100,000 events,
/// then restarted on the same data: every acknowledged event is stored, exactly once;
/// batches that were not acknowledged are resent (at least once) and stored once.
#[test]
fn events_survive_a_sigkill_mid_stream() {
    use std::net::TcpListener;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_biaozhun"))
            .args(["serve", "--addr", &addr, "--data", data.to_str().unwrap()])
            .args(["--admin-password", "admin-password-1"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/events");
    let wait_up = |client: &reqwest::Client| {
        rt.block_on(async {
            for _ in 0..600 {
                if client
                    .get(format!("http://{addr}/login"))
                    .send()
                    .await
                    .is_ok()
                {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the server did not come up");
        })
    };
    let mut server = spawn();
    wait_up(&client);
    let token = rt.block_on(async {
        let db = biaozhun::db::Db::open(&biaozhun::db::sqlite_url(&data.join("biaozhun.db")))
            .await
            .unwrap();
        let admin = db.user_by_name("admin").await.unwrap().unwrap();
        let t = db
            .create_api_token(&admin, "platform", &Default::default())
            .await
            .unwrap();
        db.pool.close().await;
        t
    });
    const TOTAL: usize = 100_000;
    const BATCH: usize = 500;
    // Orders of five events; every seventh worker's code is red, every ninth case
    // skips the insurance check: real violations for the monitor to find.
    let event = |i: usize| {
        let case = i / 5;
        let step = i % 5;
        let (act, minutes) = [
            ("下单", 0),
            ("受理", 5),
            ("核验安心码", 10),
            ("确认保险", 11),
            ("派单", 12),
        ][step];
        let act = if step == 3 && case.is_multiple_of(9) {
            "回访"
        } else {
            act
        };
        let t = 1_714_528_800 + case as i64 * 60 + minutes * 60; // from 2024-05-01T10:00+08:00
        let worker = format!("W{:05}", case % 50);
        serde_json::json!({
            "id": format!("e{i}"),
            "case_id": format!("O{case:06}"),
            "activity": act,
            "timestamp": biaozhun::audit::time::format_instant(t * 1_000_000, 480),
            "role": "客服人员",
            "worker_id": worker,
            "code_color": if case.is_multiple_of(7) { "红" } else { "绿" },
        })
    };
    let batch = |b: usize| {
        let events: Vec<serde_json::Value> = (b * BATCH..(b + 1) * BATCH).map(event).collect();
        serde_json::json!({ "events": events })
    };
    // Two clients stream concurrently; the server is killed while they do.
    let batches = TOTAL / BATCH;
    let acked = std::sync::Arc::new(std::sync::Mutex::new(vec![false; batches]));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for k in 0..2 {
            let (client, url, token, acked) =
                (client.clone(), url.clone(), token.clone(), acked.clone());
            let bodies: Vec<(usize, serde_json::Value)> =
                (k..batches).step_by(2).map(|b| (b, batch(b))).collect();
            tasks.push(tokio::spawn(async move {
                for (b, body) in bodies {
                    match client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == reqwest::StatusCode::OK => {
                            acked.lock().unwrap()[b] = true
                        }
                        Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {}
                        Ok(r) => panic!("{}", r.status()),
                        Err(_) => return, // the server is gone
                    }
                }
            }));
        }
        // Kill once a third of the stream is acknowledged.
        loop {
            let n = acked.lock().unwrap().iter().filter(|a| **a).count();
            if n >= batches / 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        server.kill().unwrap(); // SIGKILL
        for t in tasks {
            t.await.unwrap();
        }
    });
    server.wait().unwrap();
    let acked_before: Vec<bool> = acked.lock().unwrap().clone();
    let n_acked = acked_before.iter().filter(|a| **a).count();
    assert!(
        n_acked >= batches / 3 && n_acked < batches,
        "killed mid-stream ({n_acked})"
    );
    // Restart; resend everything not acknowledged, plus the last acknowledged batches
    // again (a client that lost an acknowledgement resends).
    let mut server = spawn();
    wait_up(&client);
    let resend: Vec<usize> = (0..batches)
        .filter(|b| !acked_before[*b] || *b + 10 >= n_acked)
        .collect();
    let dups = rt.block_on(async {
        let mut dups = 0;
        for b in resend {
            loop {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&batch(b))
                    .send()
                    .await
                    .unwrap();
                if r.status() == reqwest::StatusCode::OK {
                    let v: serde_json::Value = r.json().await.unwrap();
                    dups += v["duplicates"].as_u64().unwrap();
                    break;
                }
                assert_eq!(r.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        dups
    });
    // The monitor catches up on what was stored before and after the kill.
    let (stored, counts, alerts) = rt.block_on(async {
        let db = biaozhun::db::Db::open(&biaozhun::db::sqlite_url(&data.join("biaozhun.db")))
            .await
            .unwrap();
        for _ in 0..1200 {
            if db.live_backlog().await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(db.live_backlog().await.unwrap(), 0, "the monitor caught up");
        let alerts = db
            .alerts(&biaozhun::db::live::AlertFilter {
                state: None,
                limit: 1_000_000,
                ..Default::default()
            })
            .await
            .unwrap();
        (
            db.events_after(0, i64::MAX).await.unwrap(),
            db.live_case_counts().await.unwrap(),
            alerts,
        )
    });
    let _ = server.kill();
    let _ = server.wait();
    assert!(dups >= 1, "acknowledged batches were resent and recognised");
    // Every event processed exactly once: five per case, every case judged.
    assert_eq!(counts.len(), TOTAL / 5);
    assert!(
        counts.iter().all(|(_, n, closed)| *n == 5 && *closed),
        "{:?}",
        counts.iter().find(|(_, n, closed)| *n != 5 || !*closed)
    );
    // The alerts are exactly what the rules say about these orders, each once.
    let rules = biaozhun::audit::rules::RuleSet::load(&[std::path::PathBuf::from(env!(
        "CARGO_MANIFEST_DIR"
    ))
    .join("audits")])
    .unwrap();
    let mut online = biaozhun::monitor::online::Online::new(rules, Some(480));
    for i in 0..TOTAL {
        let e = event(i);
        let m = e.as_object().unwrap();
        online.add(
            i as i64,
            m["id"].as_str().unwrap(),
            m["case_id"].as_str().unwrap(),
            m["activity"].as_str().unwrap(),
            m["timestamp"].as_str().unwrap(),
            m,
        );
    }
    let names: Vec<String> = online.rules().iter().map(|r| r.id.clone()).collect();
    let mut expected = std::collections::BTreeSet::new();
    let cases: Vec<String> = online.cases.keys().cloned().collect();
    for c in &cases {
        for o in online.evaluate(c, i64::MAX / 2, true).obligations {
            expected.insert((c.clone(), names[o.rule].clone(), o.event.clone()));
        }
    }
    let got: std::collections::BTreeSet<(String, String, Option<String>)> = alerts
        .iter()
        .filter(|a| a.kind == "violation" && a.source == "workflow")
        .map(|a| {
            let ev = a.okey.split_once('@').map(|(_, e)| e.to_string());
            (a.subject.clone(), a.rule_id.clone(), ev)
        })
        .collect();
    assert!(expected.len() > 1000, "{}", expected.len());
    assert_eq!(
        got.len(),
        alerts
            .iter()
            .filter(|a| a.kind == "violation" && a.source == "workflow")
            .count(),
        "no alert twice"
    );
    assert!(
        got == expected,
        "{} alerts, {} expected",
        got.len(),
        expected.len()
    );
    assert_eq!(stored.len(), TOTAL, "every event stored");
    let mut ids: Vec<&str> = stored.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), TOTAL, "and none twice");
}

/// `monitor replay` sends a log to a running server as live events: moved to now,
/// all of it (at a high speed), nothing twice on a second run; a refused token and
/// a log without a timestamp column are clear errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_replay_sends_a_log_as_live_events() {
    use biaozhun::web::{self, ServeConfig};
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
    let admin = state.db.user_by_name("admin").await.unwrap().unwrap();
    let token = state
        .db
        .create_api_token(&admin, "replay", &Default::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve(state.clone(), listener));
    let log = dir.path().join("day.csv");
    let made = biaozhun(&[
        "demo",
        "log",
        "--orders",
        "50",
        "--days",
        "1",
        "--out",
        log.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let lines = std::fs::read_to_string(&log).unwrap().lines().count() - 1;
    let run = |token: String, log: std::path::PathBuf| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            biaozhun(&[
                "monitor",
                "replay",
                log.to_str().unwrap(),
                "--url",
                &url,
                "--token",
                &token,
                "--speed",
                "1000000",
            ])
        })
    };
    let o = run(token.clone(), log.clone()).await.unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "replayed {lines} events from {}: {lines} new, 0 already stored",
            log.display()
        )
    );
    let stored = state.db.events_after(0, 100_000).await.unwrap();
    assert_eq!(stored.len(), lines);
    // Moved to now: the first event happened moments ago.
    let now = biaozhun::monitor::feed::now_us();
    let first = stored
        .iter()
        .map(|e| {
            biaozhun::audit::time::parse_instant(&e.timestamp, None)
                .unwrap()
                .0
        })
        .min()
        .unwrap();
    assert!((now - first).abs() < 120_000_000, "{}", stored[0].timestamp);
    let again = run(token.clone(), log.clone()).await.unwrap();
    assert!(
        stdout(&again).contains(&format!("0 new, {lines} already stored")),
        "{}",
        stdout(&again)
    );
    let bad = run("not-a-token".into(), log.clone()).await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("refused the token (401)"),
        "{}",
        stderr(&bad)
    );
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "case_id,activity\nO1,下单\n").unwrap();
    let o = run(token, broken).await.unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("broken.csv:2: no timestamp column"),
        "{}",
        stderr(&o)
    );
}

/// `survey stats`: the figures as JSON and as text, a column mapped explicitly,
/// and a bad file refused with its row and column (exit 2).
#[test]
fn survey_stats_reads_a_wenjuanxing_export() {
    let o = biaozhun(&[
        "survey",
        "stats",
        "--survey",
        "tests/data/surveys/test.yaml",
        "tests/data/surveys/wjx-text.csv",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["stats"]["valid"], 6);
    assert_eq!(v["layout"], "按选项文本");
    assert_eq!(v["invalid"].as_array().unwrap().len(), 3);
    assert_eq!(v["invalid"][0]["reasons"][0]["rule"], "too_fast");
    let text = biaozhun(&[
        "survey",
        "stats",
        "--survey",
        "tests/data/surveys/test.yaml",
        "tests/data/surveys/wjx-text.csv",
    ]);
    let out = stdout(&text);
    assert!(out.contains("有效 6（电话 2，网上 4）"), "{out}");
    assert!(out.contains("83.3% ± 29.8 个百分点"), "{out}");
    assert!(out.contains("得分率 82.2%"), "{out}");
    assert!(
        out.contains("第 8 行（序号 7）：用时 10 秒，少于 60 秒"),
        "{out}"
    );
    // A retitled column: refused, then mapped with --map.
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("renamed.csv");
    let src = std::fs::read_to_string("tests/data/surveys/wjx-text.csv").unwrap();
    std::fs::write(&renamed, src.replacen("6、您的建议", "6、其他意见", 1)).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "survey",
            "stats",
            "--survey",
            "tests/data/surveys/test.yaml",
            renamed.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        biaozhun(&a)
    };
    let refused = args(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("第 1 行 L 列：题目“6、其他意见”")
            && stderr(&refused).contains("--map 6="),
        "{}",
        stderr(&refused)
    );
    let mapped = args(&["--map", "6=q6"]);
    assert_eq!(mapped.status.code(), Some(0), "{}", stderr(&mapped));
    // The workbook: every response with its validity, the figures, per question.
    let book = dir.path().join("满意度.xlsx");
    let o = args(&["--map", "6=q6", "--xlsx", book.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto(&book).unwrap();
    assert_eq!(wb.sheet_names(), vec!["概要", "题目统计", "答卷"]);
    let answers = wb.worksheet_range("答卷").unwrap();
    assert_eq!(answers.height(), 10, "a header and all 9 responses");
    let valid: Vec<String> = answers.rows().skip(1).map(|r| r[4].to_string()).collect();
    assert_eq!(valid.iter().filter(|v| *v == "否").count(), 3);
    assert_eq!(
        answers.rows().nth(7).unwrap()[5].to_string(),
        "用时 10 秒，少于 60 秒"
    );
    assert_eq!(
        answers.rows().nth(1).unwrap()[10].to_string(),
        "微信小程序┋电话"
    );
    // The 满意度测评报告 (PDF): the figures, the problems, staff's suggestions and
    // the list of invalid responses, all as text.
    let pdf = dir.path().join("满意度测评报告.pdf");
    let sugg = dir.path().join("建议.txt");
    std::fs::write(&sugg, "投诉24小时内回复并回访\n\n加强岗前培训\n").unwrap();
    let o = args(&[
        "--map",
        "6=q6",
        "--pdf",
        pdf.to_str().unwrap(),
        "--suggestions",
        sugg.to_str().unwrap(),
        "--organisation",
        "临安区家政服务中心",
        "--strict",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = super::pdf::text(std::fs::read(&pdf).unwrap()).replace([' ', '\n'], "");
    for needle in [
        "满意度测评报告",
        "临安区家政服务中心",
        "有效问卷6份",
        "83.3%",
        "82.2%",
        "4.11",
        "低于90%",
        "您对投诉处理是否满意",
        "投诉24小时内回复并回访",
        "加强岗前培训",
        "附录A",
        "用时10秒，少于60秒",
        "第1页共",
    ] {
        assert!(text.contains(needle), "{needle} missing from the PDF text");
    }
    let summary = wb.worksheet_range("概要").unwrap();
    assert!(
        summary
            .rows()
            .any(|r| r[0].to_string().starts_with("满意度") && r[1] == "83.3% ± 29.8"),
        "{:?}",
        summary.rows().map(|r| r[1].to_string()).collect::<Vec<_>>()
    );
}

/// `survey sample`: the return-visit list of an audit period. Its size follows the
/// formula (checked against an independent count of completed orders), strata are
/// placed through the platform, the draw is reproducible by seed, interviewers
/// alternate.
#[test]
fn survey_sample_draws_a_stratified_reproducible_list() {
    let dir = tempfile::tempdir().unwrap();
    let platform = dir.path().join("platform");
    let made = biaozhun(&[
        "demo",
        "platform",
        "--orders",
        "1500",
        "--out",
        platform.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let log = platform.join("orders.csv");
    // Completed in the first half of 2023, counted straight from the CSV.
    let from = biaozhun::audit::time::parse_date_or_instant("2023-01-01", 480).unwrap();
    let to = biaozhun::audit::time::parse_date_or_instant("2023-07-01", 480).unwrap();
    let mut rd = csv::Reader::from_path(&log).unwrap();
    let mut done = std::collections::BTreeSet::new();
    for r in rd.records() {
        let r = r.unwrap();
        let t = biaozhun::audit::time::parse_instant(&r[2], None).unwrap().0;
        if &r[1] == "完成服务" && t >= from && t < to {
            done.insert(r[0].to_string());
        }
    }
    let big_n = done.len() as f64;
    let n0 = 1.959_963_984_540_054f64.powi(2) * 0.25 / 0.05f64.powi(2);
    let expected = (n0 / (1.0 + (n0 - 1.0) / big_n)).ceil() as usize;
    let run = |seed: &str, out: &std::path::Path| {
        let o = biaozhun(&[
            "survey",
            "sample",
            "--log",
            log.to_str().unwrap(),
            "--platform",
            platform.to_str().unwrap(),
            "--from",
            "2023-01-01",
            "--to",
            "2023-06-30",
            "--seed",
            seed,
            "--interviewers",
            "张三,李四",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(out).unwrap()
    };
    let a = run("7", &dir.path().join("a.csv"));
    let b = run("7", &dir.path().join("b.csv"));
    let c = run("8", &dir.path().join("c.csv"));
    assert!(a.starts_with("\u{feff}序号,订单编号,网点,服务类别,客户,联系电话,访问员"));
    let rows: Vec<Vec<&str>> = a.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), expected, "n for N = {big_n}");
    assert_eq!(a, b, "the same seed draws the same list");
    assert_ne!(a, c, "another seed another list");
    assert!(
        rows.iter().all(|r| done.contains(r[1])),
        "only completed orders"
    );
    assert!(
        rows.iter().all(|r| r[2] != "未归属"),
        "placed through the platform"
    );
    let outlets: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[2]).collect();
    assert!(outlets.len() >= 15, "strata cover the outlets: {outlets:?}");
    assert_eq!(
        (rows[0][6], rows[1][6], rows[2][6]),
        ("张三", "李四", "张三")
    );
    let bad = biaozhun(&[
        "survey",
        "sample",
        "--log",
        log.to_str().unwrap(),
        "--from",
        "2023-01-01",
        "--to",
        "2023-06-30",
        "--margin",
        "5",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--margin 5"), "{}", stderr(&bad));
}
