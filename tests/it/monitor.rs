//! Live monitoring's pull mode against a real PostgreSQL "platform" table, storing
//! into a real SQLite file: pages, the cursor committed with the events, idempotent
//! re-reads, and a bad row refused with nothing half-stored.

use biaozhun::db::Db;
use biaozhun::monitor::pull::{PullError, pull};

const QUERY: &str = "SELECT e.id AS cursor, e.uuid AS id, e.order_no AS case_id, e.step AS activity, \
     e.at::text AS timestamp, e.worker AS worker_id FROM order_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_follows_a_platform_table_by_cursor() {
    let source = super::db::fresh_pg_url().await;
    let platform = sqlx::AnyPool::connect(&source).await.unwrap();
    sqlx::query(
        "CREATE TABLE order_events (id BIGSERIAL PRIMARY KEY, uuid TEXT, order_no TEXT, step TEXT, at TIMESTAMPTZ, worker TEXT)",
    )
    .execute(&platform)
    .await
    .unwrap();
    let insert = |from: i64, n: i64| {
        let platform = platform.clone();
        async move {
            sqlx::query(
                "INSERT INTO order_events (uuid, order_no, step, at, worker) \
                 SELECT 'u' || g, 'O' || (g / 5), '派单', TIMESTAMPTZ '2024-05-01 10:00:00+08' + g * INTERVAL '1 second', 'W' || (g % 7) \
                 FROM generate_series($1::bigint, $2::bigint) g",
            )
            .bind(from)
            .bind(from + n - 1)
            .execute(&platform)
            .await
            .unwrap();
        }
    };
    insert(1, 2500).await;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&biaozhun::db::sqlite_url(&dir.path().join("m.db")))
        .await
        .unwrap();
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!(
        (p.read, p.accepted, p.duplicates, p.cursor),
        (2500, 2500, 0, 2500)
    );
    let stored = db.events_after(0, 10).await.unwrap();
    assert_eq!(stored[0].id, "u1");
    assert_eq!(stored[0].attrs["worker_id"], "W1");
    assert!(
        stored[0].timestamp.starts_with("2024-05-01"),
        "{}",
        stored[0].timestamp
    );
    // Only what is new; nothing when nothing is.
    insert(2501, 10).await;
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!((p.read, p.accepted, p.cursor), (10, 10, 2510));
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!((p.read, p.accepted), (0, 0));
    // A cursor behind the stored events (a crash after the read, before the
    // commit, looks like this): the rows are read again and stored once.
    sqlx::query("UPDATE event_cursors SET position = 2000 WHERE name = 'orders'")
        .execute(&db.pool)
        .await
        .unwrap();
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!((p.read, p.accepted, p.duplicates), (510, 0, 510));
    assert_eq!(db.events_after(0, 100_000).await.unwrap().len(), 2510);
    // A bad row: refused with where, nothing of its page stored, cursor kept.
    insert(2511, 3).await;
    sqlx::query("UPDATE order_events SET at = NULL WHERE id = 2512")
        .execute(&platform)
        .await
        .unwrap();
    match pull(&db, &source, "orders", QUERY, 1000).await {
        Err(PullError::Invalid { after, error }) => {
            assert_eq!(after, 2510);
            assert!(error.contains("events[1].timestamp"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.events_after(0, 100_000).await.unwrap().len(), 2510);
    assert_eq!(db.event_cursor("orders").await.unwrap(), 2510);
    // A query without a cursor column says so.
    let no_cursor = "SELECT uuid AS id FROM order_events WHERE id > $1 LIMIT $2";
    assert!(matches!(
        pull(&db, &source, "other", no_cursor, 10).await,
        Err(PullError::NoCursor { row: 1 })
    ));
    platform.close().await;
}

// ---------------------------------------------------------------------------------
// Online conformance: live results agree with the audit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use biaozhun::audit::generate::{self, OutFormat, Settings};
use biaozhun::audit::rules::RuleSet;
use biaozhun::audit::{AuditOptions, check_log};
use biaozhun::monitor::ingest::NewEvent;
use biaozhun::monitor::online::{Online, State};
use biaozhun::monitor::service::{Clock, Handle, Monitor, MonitorConfig, Places, step};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rules() -> RuleSet {
    RuleSet::load(&[
        root().join("audits"),
        root().join("tests/data/workflow/templates.yaml"),
    ])
    .expect("shipped rules load")
}

/// (id, case, activity, timestamp, attributes) of one pushed event.
type Pushed = (
    String,
    String,
    String,
    String,
    serde_json::Map<String, serde_json::Value>,
);

/// A generated log (as CSV) and the events as the platform would push them, in
/// time order.
fn day_log(orders: u64, seed: u64) -> (tempfile::TempDir, PathBuf, Vec<Pushed>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("day.csv");
    let mut s = Settings::new(orders, seed);
    s.days = 2;
    let mut f = std::fs::File::create(&path).unwrap();
    generate::generate(&s, OutFormat::Csv, &mut f).unwrap();
    drop(f);
    let mut rd = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let mut events = Vec::new();
    for (i, row) in rd.records().enumerate() {
        let row = row.unwrap();
        let mut attrs = serde_json::Map::new();
        let (mut case, mut act, mut ts) = (String::new(), String::new(), String::new());
        for (h, v) in header.iter().zip(row.iter()) {
            match h.as_str() {
                "case_id" => case = v.to_string(),
                "activity" => act = v.to_string(),
                "timestamp" => ts = v.to_string(),
                _ if !v.is_empty() => {
                    attrs.insert(h.clone(), v.into());
                }
                _ => {}
            }
        }
        events.push((format!("ev{i:07}"), case, act, ts, attrs));
    }
    (dir, path, events)
}

fn audit_violations(path: &std::path::Path) -> BTreeMap<String, BTreeSet<String>> {
    let r = check_log(path, rules(), &AuditOptions::default(), None).unwrap();
    r.rules
        .iter()
        .map(|x| {
            (
                x.id.clone(),
                x.violating_cases.iter().map(|v| v.case.clone()).collect(),
            )
        })
        .collect()
}

/// Replaying a log through the online evaluator — evaluating as events arrive and
/// as the log's time passes, then closing every case — finds exactly the audit's
/// violations, rule by rule, for every Declare template.
#[test]
fn replaying_a_log_online_finds_the_audit_violations() {
    let (_dir, path, events) = day_log(1_500, 11);
    let expected = audit_violations(&path);
    let mut online = Online::new(rules(), Some(480));
    let names: Vec<String> = online.rules().iter().map(|r| r.id.clone()).collect();
    let mut seen_states: BTreeSet<State> = BTreeSet::new();
    let mut watermark = i64::MIN;
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for (i, (id, case, act, ts, attrs)) in events.iter().enumerate() {
        online.add(i as i64 + 1, id, case, act, ts, attrs);
        let t = biaozhun::audit::time::parse_instant(ts, None).unwrap().0;
        watermark = watermark.max(t);
        touched.insert(case.clone());
        // Evaluate every 100 events, at the log's own clock.
        if i % 100 == 99 {
            for c in std::mem::take(&mut touched) {
                for o in online.evaluate(&c, watermark, false).obligations {
                    seen_states.insert(o.state);
                }
            }
        }
    }
    let mut got: BTreeMap<String, BTreeSet<String>> =
        names.iter().map(|n| (n.clone(), BTreeSet::new())).collect();
    let cases: Vec<String> = online.cases.keys().cloned().collect();
    for c in &cases {
        for o in online.evaluate(c, watermark, true).obligations {
            assert_eq!(
                o.state,
                State::Violated,
                "a closed case has nothing pending"
            );
            got.get_mut(&names[o.rule]).unwrap().insert(c.clone());
        }
    }
    assert_eq!(
        seen_states,
        BTreeSet::from([State::Pending, State::Warned, State::Violated]),
        "open cases went through every state"
    );
    let total: usize = expected.values().map(BTreeSet::len).sum();
    assert!(total > 300, "the log has violations to compare ({total})");
    for (rule, cases) in &expected {
        assert_eq!(got.get(rule), Some(cases), "rule {rule}");
    }
    assert_eq!(got.len(), expected.len());
}

fn new_event(id: &str, case: &str, act: &str, ts: &str, attrs: serde_json::Value) -> NewEvent {
    NewEvent {
        id: id.into(),
        case_id: case.into(),
        activity: act.into(),
        timestamp: ts.into(),
        at_us: biaozhun::audit::time::parse_instant(ts, None).unwrap().0,
        attrs: attrs.to_string(),
    }
}

/// The running monitor over a database: the day's log pushed in batches, processed
/// in rounds on the events' clock, then time moves on (a later event) and every
/// case closes. The violation alerts are the audit's; each event counted once.
async fn service_replay(url: &str) {
    let db = biaozhun::db::Db::open(url).await.unwrap();
    let (_dir, path, events) = day_log(400, 5);
    let expected = audit_violations(&path);
    let cfg = MonitorConfig {
        clock: Clock::Events,
        ..MonitorConfig::default()
    };
    let handle = Handle::new(cfg.clone());
    let mut m = Monitor::new(rules(), Places::default(), &cfg);
    let batch: Vec<NewEvent> = events
        .iter()
        .map(|(id, c, a, ts, attrs)| NewEvent {
            id: id.clone(),
            case_id: c.clone(),
            activity: a.clone(),
            timestamp: ts.clone(),
            at_us: biaozhun::audit::time::parse_instant(ts, None).unwrap().0,
            attrs: serde_json::Value::Object(attrs.clone()).to_string(),
        })
        .collect();
    for (k, chunk) in batch.chunks(250).enumerate() {
        db.ingest_events(chunk, "test").await.unwrap();
        // Half-way, the monitor "restarts": a new one rebuilt from the database.
        if k == 6 {
            m = Monitor::new(rules(), Places::default(), &cfg);
            m.restore(&db).await.unwrap();
            step(&db, &mut m, 300, true, &handle).await.unwrap();
        }
        while step(&db, &mut m, 300, false, &handle).await.unwrap() > 0 {}
    }
    let warned = db
        .alerts(&biaozhun::db::live::AlertFilter {
            kind: Some("warning".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!warned.is_empty(), "warnings were raised before deadlines");
    // A month later: every case closes.
    db.ingest_events(
        &[new_event(
            "late",
            "ZZZ",
            "下单",
            "2030-01-01T00:00:00+08:00",
            serde_json::json!({}),
        )],
        "test",
    )
    .await
    .unwrap();
    while step(&db, &mut m, 300, false, &handle).await.unwrap() > 0 {}
    let alerts = db
        .alerts(&biaozhun::db::live::AlertFilter {
            state: None,
            kind: Some("violation".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got: BTreeMap<String, BTreeSet<String>> = expected
        .keys()
        .map(|k| (k.clone(), BTreeSet::new()))
        .collect();
    for a in &alerts {
        if a.state == "resolved" && a.source == "workflow" {
            // Retracted (a late event) — not a violation any more.
            continue;
        }
        got.get_mut(&a.rule_id).unwrap().insert(a.subject.clone());
    }
    for (rule, cases) in &expected {
        assert_eq!(got.get(rule), Some(cases), "rule {rule}");
    }
    // Every warning either became a violation or was met: none left open.
    let open_warnings = db
        .alerts(&biaozhun::db::live::AlertFilter {
            state: Some("open".into()),
            kind: Some("warning".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(open_warnings.is_empty(), "{open_warnings:?}");
    let counts = db.live_case_counts().await.unwrap();
    let total: i64 = counts.iter().map(|c| c.1).sum();
    assert_eq!(
        total as usize,
        events.len() + 1,
        "each event processed once"
    );
    assert!(
        counts.iter().filter(|c| c.0 != "ZZZ").all(|c| c.2),
        "every case closed"
    );
    assert_eq!(db.live_backlog().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_replay_equals_audit_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    service_replay(&biaozhun::db::sqlite_url(&dir.path().join("m.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_replay_equals_audit_on_postgres() {
    service_replay(&super::db::fresh_pg_url().await).await;
}

fn iso(t_us: i64) -> String {
    biaozhun::audit::time::format_instant(t_us, 480)
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

async fn alert_states(db: &biaozhun::db::Db, case: &str) -> BTreeSet<(String, String, String)> {
    db.alerts(&biaozhun::db::live::AlertFilter {
        state: None,
        limit: 1000,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_iter()
    .filter(|a| a.subject == case)
    .map(|a| (a.rule_id, a.kind, a.state))
    .collect()
}

/// Wall-clock timers: a warning raised before the deadline; the monitor is then
/// gone while the deadline passes, and the rebuilt one fires it at once — as a
/// violation that replaces the warning, raised once. A late event reopens a case
/// closed as violated, and the violation it disproves is retracted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_survive_a_restart_and_late_events_retract() {
    let dir = tempfile::tempdir().unwrap();
    let db = biaozhun::db::Db::open(&biaozhun::db::sqlite_url(&dir.path().join("m.db")))
        .await
        .unwrap();
    let cfg = MonitorConfig {
        close_after: Some(3_600_000_000), // 1 h
        ..MonitorConfig::default()
    };
    let handle = Handle::new(cfg.clone());
    let mut updates = handle.updates.subscribe();
    let t0 = now_us() - 20 * 60_000_000 + 3_000_000; // 20 min deadline in 3 s
    db.ingest_events(
        &[new_event(
            "a1",
            "T1",
            "下单",
            &iso(t0),
            serde_json::json!({"outlet_id": "O03"}),
        )],
        "test",
    )
    .await
    .unwrap();
    let mut m = Monitor::new(rules(), Places::default(), &cfg);
    m.restore(&db).await.unwrap();
    step(&db, &mut m, 100, true, &handle).await.unwrap();
    let first = alert_states(&db, "T1").await;
    assert!(
        first.contains(&(
            "first-response-20min".into(),
            "warning".into(),
            "open".into()
        )),
        "{first:?}"
    );
    assert!(
        !first.iter().any(|a| a.1 == "violation"),
        "nothing violated yet: {first:?}"
    );
    let pushed: serde_json::Value = serde_json::from_str(&updates.recv().await.unwrap()).unwrap();
    assert!(!pushed["raised"].as_array().unwrap().is_empty());
    drop(m);
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    // A new monitor, no new event: the restored timer fires.
    let mut m = Monitor::new(rules(), Places::default(), &cfg);
    m.restore(&db).await.unwrap();
    step(&db, &mut m, 100, true, &handle).await.unwrap();
    step(&db, &mut m, 100, true, &handle).await.unwrap();
    let after = alert_states(&db, "T1").await;
    assert!(
        after.contains(&(
            "first-response-20min".into(),
            "violation".into(),
            "open".into()
        )),
        "{after:?}"
    );
    assert!(
        after.contains(&(
            "first-response-20min".into(),
            "warning".into(),
            "resolved".into()
        )),
        "the warning became the violation: {after:?}"
    );
    let all = db
        .alerts(&biaozhun::db::live::AlertFilter {
            state: None,
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let t1 = all.iter().filter(|a| a.subject == "T1").count();
    assert_eq!(t1, after.len(), "no alert twice");
    assert_eq!(all[0].outlet.as_deref(), Some("O03"));

    // T2: placed 3 h ago, nothing since: closed at once and judged.
    let t2 = now_us() - 3 * 3_600_000_000;
    db.ingest_events(
        &[new_event(
            "b1",
            "T2",
            "下单",
            &iso(t2),
            serde_json::json!({}),
        )],
        "test",
    )
    .await
    .unwrap();
    step(&db, &mut m, 100, false, &handle).await.unwrap();
    let closed = alert_states(&db, "T2").await;
    assert!(
        closed.contains(&(
            "acceptance-within-2h".into(),
            "violation".into(),
            "open".into()
        )),
        "{closed:?}"
    );
    assert!(
        db.live_case_counts()
            .await
            .unwrap()
            .iter()
            .any(|c| c.0 == "T2" && c.2)
    );
    // The platform's acceptance 10 minutes after the order arrives late.
    db.ingest_events(
        &[new_event(
            "b2",
            "T2",
            "受理",
            &iso(t2 + 600_000_000),
            serde_json::json!({"role": "客服人员"}),
        )],
        "test",
    )
    .await
    .unwrap();
    step(&db, &mut m, 100, false, &handle).await.unwrap();
    let retracted = alert_states(&db, "T2").await;
    assert!(
        retracted.contains(&(
            "acceptance-within-2h".into(),
            "violation".into(),
            "resolved".into()
        )),
        "{retracted:?}"
    );
    let (_, actions) = db
        .alert(
            all.iter()
                .chain(
                    db.alerts(&biaozhun::db::live::AlertFilter {
                        state: None,
                        limit: 1000,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .iter(),
                )
                .find(|a| a.subject == "T2" && a.rule_id == "acceptance-within-2h")
                .unwrap()
                .id,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(actions.last().unwrap().actor, "系统");
    assert!(actions.last().unwrap().note.contains("迟到"), "{actions:?}");
    let t2row = db
        .live_case_counts()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.0 == "T2")
        .unwrap();
    assert_eq!((t2row.1, t2row.2), (2, true), "two events, closed again");
}

/// Record checks on a schedule: a worker whose health check has expired is a
/// violation; one whose check expires within the horizon is a warning; both clear
/// when the data does. Expected sets come straight from the platform's fields.
#[test]
fn record_checks_warn_before_expiry() {
    use biaozhun::audit::checks::CheckSet;
    use biaozhun::monitor::service::record_round;
    use biaozhun::platform::generate::{Settings as PSettings, generate as pgen};
    use biaozhun::platform::import::{Options, import_sources};
    let set = CheckSet::load(&[root().join("audits")]).unwrap();
    let g = pgen(&PSettings::default());
    let p = import_sources(
        g.files
            .iter()
            .map(|(n, t)| (n.clone(), t.clone().into_bytes()))
            .collect(),
        &Options { key: b"k" },
    )
    .unwrap();
    // The median expiry: half the checks have run out, and some run out this week.
    let mut until: Vec<i64> = p
        .workers
        .iter()
        .filter_map(|w| w.health_check_until)
        .collect();
    until.sort_unstable();
    let now = until[until.len() / 2] - 1;
    let week = 7 * 86_400_000_000;
    let places = Places::new(&p);
    let c = record_round(&set, &p, &places, now, week, &[], false);
    let raised = |kind: &str| -> BTreeSet<String> {
        c.raise
            .iter()
            .filter(|a| a.kind == kind && a.rule_id == "db-worker-annual-health-check")
            .map(|a| a.subject.clone())
            .collect()
    };
    let expired: BTreeSet<String> = p
        .workers
        .iter()
        // A missing expiry is no valid check either.
        .filter(|w| w.health_check_until.is_none_or(|t| t < now))
        .map(|w| format!("workers:{}", w.id))
        .collect();
    let expiring: BTreeSet<String> = p
        .workers
        .iter()
        .filter(|w| {
            w.health_check_until
                .is_some_and(|t| t >= now && t < now + week)
        })
        .map(|w| format!("workers:{}", w.id))
        .collect();
    assert!(!expired.is_empty() && !expiring.is_empty());
    let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.symmetric_difference(b).take(5).cloned().collect()
    };
    let (v, w) = (raised("violation"), raised("warning"));
    assert!(
        v == expired,
        "{} vs {}: {:?}",
        v.len(),
        expired.len(),
        diff(&v, &expired)
    );
    assert!(
        w == expiring,
        "{} vs {}: {:?}",
        w.len(),
        expiring.len(),
        diff(&w, &expiring)
    );
    // Every worker alert is placed in a town.
    assert!(
        c.raise
            .iter()
            .filter(|a| a.subject.starts_with("workers:"))
            .all(|a| a.town.is_some()),
    );
    // The next round with everything open: nothing raised again; a record that
    // no longer fails is resolved.
    let mut open: Vec<(String, String, String)> = c
        .raise
        .iter()
        .map(|a| (a.kind.clone(), a.subject.clone(), a.okey.clone()))
        .collect();
    open.push((
        "violation".into(),
        "workers:W99999".into(),
        "db-worker-annual-health-check".into(),
    ));
    let again = record_round(&set, &p, &places, now, week, &open, false);
    assert!(again.raise.is_empty(), "{:?}", again.raise.first());
    assert_eq!(again.resolve.len(), 1);
    assert_eq!(again.resolve[0].subject, "workers:W99999");
}

/// Two servers on one PostgreSQL database: one monitors, the other stands by; the
/// events are processed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_monitor_per_postgres_database() {
    use biaozhun::web::{self, ServeConfig};
    let url = super::db::fresh_pg_url().await;
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            data: dir.path().join("data"),
            standards: root().join("standards"),
            database_url: Some(url.clone()),
            admin_password: Some("admin-password-1".into()),
            demo: false,
            insecure_cookies: false,
            code_pattern: "Q/BZ {n:03}—{year}".into(),
            monitor: MonitorConfig {
                clock: Clock::Events,
                ..MonitorConfig::default()
            },
        };
        let (state, _) = web::prepare(&cfg).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::spawn(web::serve(state.clone(), listener));
        servers.push(state);
        dirs.push(dir);
    }
    let db = &servers[0].db;
    let events: Vec<NewEvent> = (0..2_000)
        .map(|i| {
            new_event(
                &format!("p{i}"),
                &format!("C{}", i / 4),
                ["下单", "受理", "派单", "评价"][i % 4],
                &iso(1_714_528_800_000_000 + i as i64 * 60_000_000),
                serde_json::json!({}),
            )
        })
        .collect();
    for chunk in events.chunks(200) {
        db.ingest_events(chunk, "test").await.unwrap();
        for s in &servers {
            s.monitor.wake.notify_one();
        }
    }
    for _ in 0..200 {
        if db.live_backlog().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(db.live_backlog().await.unwrap(), 0);
    let total: i64 = db
        .live_case_counts()
        .await
        .unwrap()
        .iter()
        .map(|c| c.1)
        .sum();
    assert_eq!(total, 2_000, "each event counted once");
    let states: Vec<_> = servers.iter().map(|s| s.monitor.status()).collect();
    assert_eq!(states.iter().filter(|s| s.running).count(), 1, "{states:?}");
    assert!(
        states
            .iter()
            .any(|s| s.error.as_deref().is_some_and(|e| e.contains("待命"))),
        "{states:?}"
    );
    // Another installation in another schema of the same database monitors too.
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        data: dir.path().join("data"),
        standards: root().join("standards"),
        database_url: Some(super::db::fresh_pg_url().await),
        admin_password: Some("admin-password-1".into()),
        demo: false,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        monitor: MonitorConfig::default(),
    };
    let (other, _) = web::prepare(&cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(web::serve(other.clone(), listener));
    for _ in 0..100 {
        if other.monitor.status().running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        other.monitor.status().running,
        "{:?}",
        other.monitor.status()
    );
}

/// Two monitors that read the same events (a race no lock prevented): the second
/// commit finds them done and keeps nothing, so nothing counts twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_commit_of_the_same_events_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = biaozhun::db::Db::open(&biaozhun::db::sqlite_url(&dir.path().join("m.db")))
        .await
        .unwrap();
    let cfg = MonitorConfig::default();
    let events: Vec<NewEvent> = (0..10)
        .map(|i| {
            new_event(
                &format!("r{i}"),
                "R1",
                "下单",
                &iso(now_us()),
                serde_json::json!({}),
            )
        })
        .collect();
    db.ingest_events(&events, "test").await.unwrap();
    let todo = db.live_todo(100).await.unwrap();
    let mut m1 = Monitor::new(rules(), Places::default(), &cfg);
    let mut m2 = Monitor::new(rules(), Places::default(), &cfg);
    let c1 = m1.round(&todo, &[], false);
    let c2 = m2.round(&todo, &[], false);
    db.live_commit(&c1).await.unwrap();
    let err = db.live_commit(&c2).await.unwrap_err();
    assert!(err.to_string().contains("already processed"), "{err}");
    let counts = db.live_case_counts().await.unwrap();
    assert_eq!(counts, vec![("R1".to_string(), 10, false)]);
}
