//! Surveys at scale: reading a 问卷星 export, the validity rules and statistics, a
//! results page's work (load a version's responses from the database and compute),
//! and public-form submissions over HTTP.
//!
//! `cargo bench --bench survey` prints figures (recorded in BENCHMARKS.md).

use std::time::{Duration, Instant};

use biaozhun::survey::stats::compute;
use biaozhun::survey::validity;
use biaozhun::survey::{Survey, wjx};
use biaozhun::web::{self, ServeConfig};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn survey() -> Survey {
    let text = std::fs::read_to_string(root().join("surveys/customer-satisfaction.yaml")).unwrap();
    Survey::from_yaml(&text, "s").unwrap()
}

/// A 问卷星 text-layout export of `n` responses.
fn export(s: &Survey, n: usize) -> Vec<u8> {
    let mut out = String::from("序号,提交答卷时间,所用时间,来源,来源详情,来自IP");
    for (i, q) in s.questions.iter().enumerate() {
        out.push_str(&format!(",{}、{}", i + 1, q.text));
    }
    out.push('\n');
    let likert = ["非常满意", "满意", "一般", "不满意"];
    for r in 0..n {
        let mut row = format!(
            "{},2023/10/{} {:02}:{:02}:00,{}秒,手机提交,直接访问,115.192.{}.{}(浙江-杭州)",
            r + 1,
            1 + r % 28,
            r % 24,
            r % 60,
            60 + r % 300,
            r % 250,
            1 + r % 250
        );
        for (i, q) in s.questions.iter().enumerate() {
            row.push(',');
            let k = (r * 7 + i * 3) % 10;
            match q.kind {
                biaozhun::survey::Kind::Likert => row.push_str(likert[k.saturating_sub(7)]),
                biaozhun::survey::Kind::Single => row.push_str(&q.options[k % q.options.len()]),
                biaozhun::survey::Kind::Multiple => row.push_str(&format!(
                    "{}┋{}",
                    q.options[0],
                    q.options[1 + k % (q.options.len() - 1)]
                )),
                _ => row.push_str(if k == 0 {
                    "服务很好，阿姨很细心"
                } else {
                    "(空)"
                }),
            }
        }
        out.push_str(&row);
        out.push('\n');
    }
    out.into_bytes()
}

fn main() {
    let s = survey();
    println!(
        "## survey bench ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let mut big = Vec::new();
    for n in [10_000usize, 100_000] {
        let bytes = export(&s, n);
        let t = Instant::now();
        let imp = wjx::import(&bytes, "x.csv", &s).unwrap();
        let read = t.elapsed();
        let t = Instant::now();
        let v = validity::check(&s, &imp.responses, &s.rules());
        let st = compute(&s, &imp.responses, &v, None);
        let stats = t.elapsed();
        println!(
            "import {n} rows ({:.1} MB CSV): {:.0} ms ({:.0} rows/s); validity + statistics: {:.0} ms (valid {})",
            bytes.len() as f64 / 1e6,
            read.as_secs_f64() * 1e3,
            n as f64 / read.as_secs_f64(),
            stats.as_secs_f64() * 1e3,
            st.valid
        );
        big = imp.responses;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (label, url) in [("SQLite", None), ("PostgreSQL", Some(pg_url().await))] {
            let dir = tempfile::tempdir().unwrap();
            let cfg = ServeConfig {
                data: dir.path().join("data"),
                standards: root().join("standards"),
                database_url: url,
                admin_password: Some("bench-password-1".into()),
                demo: false,
                insecure_cookies: true,
                code_pattern: "Q/BZ {n:03}—{year}".into(),
                monitor: biaozhun::monitor::service::MonitorConfig { enabled: false, ..Default::default() },
            };
            let (state, _) = web::prepare(&cfg).await.unwrap();
            let row = state.db.survey_latest("customer-satisfaction").await.unwrap().unwrap();
            assert_eq!(row.key, s.id);
            // Commit 100,000 imported responses in one transaction.
            let t = Instant::now();
            state.db.survey_import(row.id, "big.csv", &"b".repeat(64), "按选项文本", &big, None).await.unwrap();
            let commit = t.elapsed();
            // A results page's work: load them and compute.
            let t = Instant::now();
            let l = biaozhun::survey::stored::load(&state.db, row.id, None).await.unwrap();
            let page = t.elapsed();
            println!(
                "{label}: commit {} responses {:.2} s ({:.0}/s); load + statistics {:.0} ms (valid {})",
                big.len(),
                commit.as_secs_f64(),
                big.len() as f64 / commit.as_secs_f64(),
                page.as_secs_f64() * 1e3,
                l.stats.valid
            );
            // Public-form submissions over HTTP: fetch the form, post an answer.
            let token = state.db.survey_link_create(&s.id, true, "bench", None).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(web::serve(state.clone(), listener));
            let c = reqwest::Client::new();
            let mut visits = Vec::new();
            let t = Instant::now();
            let forms = 200;
            for _ in 0..forms {
                let page = c.get(format!("{base}/s/{token}")).send().await.unwrap().text().await.unwrap();
                let i = page.find("name=\"visit\" value=\"").unwrap() + 20;
                visits.push(page[i..i + page[i..].find('"').unwrap()].to_string());
            }
            let get = t.elapsed();
            tokio::time::sleep(Duration::from_millis(3100)).await;
            let mut lat = Vec::new();
            // The per-address limit lets one address post 10 an hour through an
            // open link, and loopback is one address: ten posts are timed.
            for v in visits.iter().take(10) {
                let t = Instant::now();
                let r = c
                    .post(format!("{base}/s/{token}"))
                    .form(&[("visit", v.as_str()), ("q_overall", "0"), ("q_attitude", "0"), ("q_quality", "1"), ("q_timeliness", "0"), ("q_code", "0"), ("q_process-known", "1")])
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                lat.push(t.elapsed());
            }
            lat.sort();
            println!(
                "{label}: public form GET {:.1} ms each ({forms} sequential); POST p50 {:.1} ms, max {:.1} ms (10 sequential, beside {} stored responses)",
                get.as_secs_f64() * 1e3 / forms as f64,
                lat[5].as_secs_f64() * 1e3,
                lat[9].as_secs_f64() * 1e3,
                big.len()
            );
        }
    });
}

/// A fresh schema in the `test` database.
async fn pg_url() -> String {
    sqlx::any::install_default_drivers();
    let base = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(base).await.unwrap();
    let schema = format!("bench_survey_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    format!("{base}?options=-c%20search_path%3D{schema}")
}
