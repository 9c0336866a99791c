//! Online conformance: how fast the monitor evaluates events.
//!
//! 1. In memory: a generated log (20,000 orders, ~245,000 events over 30 days) is
//!    fed to `Online` in arrival order; every 1,000 events the touched cases are
//!    evaluated at the log's clock, as the monitor's rounds do; then every case is
//!    closed. Compared with the batch checker on the same file.
//! 2. Through the database: the same events stored, then processed by the monitor's
//!    rounds (`service::step`: read unprocessed, evaluate, commit results with the
//!    `done` marks) on SQLite and PostgreSQL.
//!
//! `cargo bench --bench monitor` prints figures (recorded in BENCHMARKS.md).

use std::path::PathBuf;
use std::time::Instant;

use biaozhun::audit::generate::{self, OutFormat, Settings};
use biaozhun::audit::rules::RuleSet;
use biaozhun::audit::{AuditOptions, check_log};
use biaozhun::monitor::feed;
use biaozhun::monitor::online::Online;
use biaozhun::monitor::service::{Clock, Handle, Monitor, MonitorConfig, Places, step};

fn rules() -> RuleSet {
    RuleSet::load(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audits")]).expect("rules")
}

/// A new schema on the test server, or why not (which server, the reason, what to
/// start): the PostgreSQL figures are skipped, saying so.
async fn pg_url() -> Result<String, String> {
    use sqlx::Connection;
    let base = std::env::var("BIAOZHUN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    sqlx::any::install_default_drivers();
    let why = |e: &dyn std::fmt::Display| {
        format!(
            "no server at {} ({e}); start it with `pg_ctlcluster --skip-systemctl-redirect \
             $(ls /etc/postgresql) main start` or set BIAOZHUN_TEST_PG",
            biaozhun::db::redact(&base)
        )
    };
    // One plain connection first: it fails at once with the reason, where a pool
    // retries for 30 s and says only `PoolTimedOut`.
    sqlx::AnyConnection::connect(&base)
        .await
        .map_err(|e| why(&e))?
        .close()
        .await
        .map_err(|e| why(&e))?;
    let admin = sqlx::AnyPool::connect(&base).await.map_err(|e| why(&e))?;
    let schema = format!("bench_{}", &biaozhun::db::accounts::random_token()[..12]);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .map_err(|e| why(&e))?;
    admin.close().await;
    Ok(format!("{base}?options=-c%20search_path%3D{schema}"))
}

async fn through_db(label: &str, url: &str, events: &[biaozhun::monitor::ingest::NewEvent]) {
    let db = biaozhun::db::Db::open(url).await.expect("db");
    for chunk in events.chunks(5_000) {
        db.ingest_events(chunk, "bench").await.expect("ingest");
    }
    let cfg = MonitorConfig {
        clock: Clock::Events,
        ..MonitorConfig::default()
    };
    let handle = Handle::new(cfg.clone());
    let mut m = Monitor::new(rules(), Places::default(), &cfg);
    let t = Instant::now();
    let mut n = 0;
    loop {
        let k = step(&db, &mut m, cfg.batch, false, &handle)
            .await
            .expect("step");
        if k == 0 {
            break;
        }
        n += k;
    }
    let secs = t.elapsed().as_secs_f64();
    let alerts = db
        .alerts(&biaozhun::db::live::AlertFilter {
            state: None,
            limit: 1_000_000,
            ..Default::default()
        })
        .await
        .expect("alerts")
        .len();
    println!(
        "{label:<10} monitor rounds of 5,000: {n} events in {secs:.2} s = {:>8.0} events/s processed and committed ({alerts} alerts)",
        n as f64 / secs
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("month.csv");
    let mut s = Settings::new(20_000, 3);
    s.days = 30;
    let mut f = std::fs::File::create(&path).expect("create");
    let truth = generate::generate(&s, OutFormat::Csv, &mut f).expect("generate");
    drop(f);
    let events = feed::read_log(&path, "bench").expect("read");
    println!(
        "log: {} orders, {} events over {} days",
        truth.orders, truth.events, s.days
    );

    // Batch checker, for comparison.
    let t = Instant::now();
    let batch = check_log(&path, rules(), &AuditOptions::default(), None).expect("audit");
    let audit_secs = t.elapsed().as_secs_f64();
    println!(
        "audit workflow (batch, all cores): {audit_secs:.2} s = {:>9.0} events/s",
        truth.events as f64 / audit_secs
    );
    let _ = batch;

    // Online, in memory, one thread.
    let mut online = Online::new(rules(), Some(480));
    let t = Instant::now();
    let mut touched: Vec<String> = Vec::new();
    let mut watermark = i64::MIN;
    let mut evaluations = 0u64;
    for (i, e) in events.iter().enumerate() {
        let attrs: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&e.attrs).unwrap_or_default();
        online.add(
            i as i64,
            &e.id,
            &e.case_id,
            &e.activity,
            &e.timestamp,
            &attrs,
        );
        watermark = watermark.max(e.at_us);
        touched.push(e.case_id.clone());
        if i % 1_000 == 999 {
            touched.sort();
            touched.dedup();
            for c in touched.drain(..) {
                online.evaluate(&c, watermark, false);
                evaluations += 1;
            }
        }
    }
    let cases: Vec<String> = online.cases.keys().cloned().collect();
    let mut violated = 0usize;
    for c in &cases {
        violated += online.evaluate(c, watermark, true).obligations.len();
        evaluations += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "online (in memory, one thread): {secs:.2} s = {:>9.0} events/s ({evaluations} case evaluations, {:.1} µs each; {violated} violations at close)",
        truth.events as f64 / secs,
        secs * 1e6 / evaluations as f64
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sub = &events[..events.len().min(100_000)];
        through_db(
            "SQLite",
            &biaozhun::db::sqlite_url(&dir.path().join("m.db")),
            sub,
        )
        .await;
        match pg_url().await {
            Ok(url) => through_db("PostgreSQL", &url, sub).await,
            Err(why) => println!("PostgreSQL: skipped, {why}"),
        }
    });
}
