//! Event ingest over HTTP (`POST /api/v1/events`): sustained events/s acknowledged
//! and the acknowledge latency (p50/p99) on SQLite and PostgreSQL.
//!
//! The real server runs in this process on loopback; for each of `CONFIGS`, that many
//! concurrent clients each send batches of that many events (order-log events with
//! attributes) as fast as they are acknowledged, for `SECONDS` seconds. A 503 (back-pressure) is retried
//! after a short sleep and counted. Every acknowledged batch has been committed.
//!
//! `cargo bench --bench ingest` prints figures (recorded in BENCHMARKS.md). Needs
//! PostgreSQL at 127.0.0.1:5432 (database `test`) for the second half.

use std::time::{Duration, Instant};

use biaozhun::web::{self, ServeConfig};

const SECONDS: u64 = 8;
/// (clients, events per batch): big batches for throughput, small ones for latency.
const CONFIGS: [(usize, usize); 2] = [(4, 1000), (4, 200)];

/// The instant the bench started (µs), the base of every event time.
fn start_us() -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0)
    })
}

fn body(client: usize, n: usize, batch: usize) -> String {
    let acts = [
        "下单",
        "受理",
        "派单",
        "签到",
        "开始服务",
        "完成服务",
        "评价",
    ];
    let events: Vec<serde_json::Value> = (0..batch)
        .map(|i| {
            let k = n * batch + i;
            serde_json::json!({
                "id": format!("b{batch}-c{client}-{k}"),
                "case_id": format!("O{client}{:08}", k / 7),
                "activity": acts[k % 7],
                // Live events: now, a second apart per client, so the monitor sees
                // open orders as in service (old times would close every order at
                // once and reopen it with each later event).
                "timestamp": biaozhun::audit::time::format_instant(start_us() + k as i64 * 1_000_000, 480),
                "resource": format!("S{:03}", k % 300),
                "worker_id": format!("W{:05}", k % 3500),
                "service_type": "日常保洁",
                "code_color": "green",
            })
        })
        .collect();
    serde_json::json!({ "events": events }).to_string()
}

async fn count(db: &biaozhun::db::Db) -> usize {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&db.pool)
        .await
        .and_then(|r| r.try_get::<i64, _>("n"))
        .expect("count") as usize
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

async fn run(label: &str, postgres: bool) {
    for (clients, batch) in CONFIGS {
        // A fresh database per configuration (the previous server and its monitor
        // keep running in this process, on their own database).
        let url = if postgres {
            match pg_url().await {
                Ok(u) => Some(u),
                Err(why) => {
                    println!("PostgreSQL: skipped, {why}");
                    return;
                }
            }
        } else {
            None
        };
        run_one(label, url, clients, batch).await;
    }
}

async fn run_one(label: &str, database_url: Option<String>, clients: usize, batch: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ServeConfig {
        data: dir.path().join("data"),
        standards: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url,
        admin_password: Some("bench-password-1".into()),
        demo: false,
        insecure_cookies: true,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        // The monitor evaluates the shipped rules while the clients push: ingest is
        // measured with the evaluation competing for the two cores, as in service.
        monitor: Default::default(),
    };
    let (state, _) = web::prepare(&cfg).await.expect("prepare");
    let admin = state
        .db
        .user_by_name("admin")
        .await
        .expect("db")
        .expect("admin");
    let token = state
        .db
        .create_api_token(&admin, "bench", &Default::default())
        .await
        .expect("token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/api/v1/events",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(web::serve(state.clone(), listener));

    let before = count(&state.db).await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut busy = 0usize;
            let mut n = 0;
            while Instant::now() < deadline {
                let payload = body(c, n, batch);
                loop {
                    let t = Instant::now();
                    let r = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(payload.clone())
                        .send()
                        .await
                        .expect("send");
                    let status = r.status();
                    let _ = r.bytes().await;
                    if status == reqwest::StatusCode::OK {
                        latencies.push(t.elapsed());
                        break;
                    }
                    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
                    busy += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                n += 1;
            }
            (latencies, busy)
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    let mut busy = 0;
    for t in tasks {
        let (l, b) = t.await.expect("client");
        all.extend(l);
        busy += b;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let events = all.len() * batch;
    let stored = count(&state.db).await - before;
    assert_eq!(stored, events, "every acknowledged event is stored");
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{label:<10} {clients} clients × {batch:>4}-event batches, {SECONDS} s: {:>8.0} events/s acknowledged   ack p50 {:>6.1} ms  p99 {:>6.1} ms   ({} batches, {busy} answered 503)",
        events as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        all.len()
    );
    // The monitor's side: what it had not evaluated when the clients stopped, and
    // how long it took to catch up (evaluation throughput over the whole run).
    let backlog = state.db.live_backlog().await.expect("backlog") as usize;
    let t = Instant::now();
    while state.db.live_backlog().await.expect("backlog") > 0 && t.elapsed().as_secs() < 600 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = elapsed + t.elapsed().as_secs_f64();
    println!(
        "{:<10} monitor: {backlog} events not yet evaluated when ingest stopped; caught up {:.1} s later: {:>8.0} events/s evaluated over the run",
        "",
        t.elapsed().as_secs_f64(),
        events as f64 / total
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        run("SQLite", false).await;
        run("PostgreSQL", true).await;
    });
}
