//! The running monitor: stored events → [`Online`] → alerts, one transaction per
//! round; timers; record checks on a schedule; the webhook sender.
//!
//! Memory is a cache of the database. At start (and after any database error) the
//! monitor rebuilds its open cases from the processed events and its flags from
//! `live_flags`, then re-evaluates every open case at the current instant — which is
//! how timers survive a restart: a deadline that passed while the server was down
//! fires in that first round. Each round then takes unprocessed events (`done = 0`)
//! in arrival order, evaluates the cases they touch and the cases whose timer is due,
//! and commits the events' `done` mark together with everything that changed. A
//! crash before the commit leaves the events unprocessed, and memory is rebuilt
//! without them, so each event counts exactly once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::online::{Obligation, Online, State};
use crate::audit::checks::{CheckSet, Entity};
use crate::audit::rules::{RuleSet, Severity};
use crate::audit::time::{self, Micros};
use crate::db::Db;
use crate::db::events::StoredEvent;
use crate::db::live::{AutoResolve, CaseDelta, LiveCommit, NewAlert};
use crate::platform::Platform;

/// Which clock decides deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The server's clock (live operation).
    #[default]
    Wall,
    /// The latest event time processed (replaying a log, demos): deadlines pass as
    /// the log's time passes.
    Events,
}

/// Where to send alerts.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Off: events are stored but not evaluated.
    pub enabled: bool,
    pub clock: Clock,
    /// Close a case after this long without events (default: the longest window
    /// plus an hour, at least a day).
    pub close_after: Option<Micros>,
    pub webhook: Option<Webhook>,
    /// Record checks run at least this often (and when the platform data changes).
    pub records_every: Duration,
    /// How far ahead record checks look for warnings (expiring health checks …).
    pub horizon: Micros,
    /// Events per round.
    pub batch: i64,
    /// `serve --demo`: feed a simulated week of orders in real time (the first day
    /// already past), so the live page has something to show.
    pub demo_feed: bool,
    /// Ingest answers 503 while more than this many stored events wait for
    /// evaluation: a platform sending faster than the monitor evaluates is slowed
    /// down, and the unevaluated backlog (on disk) stays bounded.
    pub max_backlog: i64,
    /// Added to the wall clock for record checks. Zero in service; the demo's
    /// platform data is from 2023, so the demo checks it as of the end of 2023.
    pub records_shift: Micros,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            enabled: true,
            clock: Clock::Wall,
            close_after: None,
            webhook: None,
            records_every: Duration::from_secs(600),
            horizon: 7 * 86_400_000_000,
            batch: 5_000,
            demo_feed: false,
            records_shift: 0,
            max_backlog: 1_000_000,
        }
    }
}

/// What the live page shows about the monitor itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Status {
    pub running: bool,
    pub error: Option<String>,
    pub open_cases: usize,
    pub pending: usize,
    pub warned: usize,
    /// Events processed since the server started.
    pub processed: u64,
    /// Unix seconds of the last record-check round.
    pub records_at: Option<i64>,
    /// The clock's instant, formatted.
    pub now: String,
}

/// Shared between the monitor task and the web handlers.
pub struct Handle {
    pub config: MonitorConfig,
    /// Poked after every committed ingest.
    pub wake: tokio::sync::Notify,
    /// `{"raised":[ids],"resolved":[ids]}` after every commit that changed alerts.
    pub updates: tokio::sync::broadcast::Sender<String>,
    pub status: Mutex<Status>,
    /// Stored events not yet evaluated, as of the monitor's last round.
    pub backlog: std::sync::atomic::AtomicI64,
}

impl Handle {
    pub fn new(config: MonitorConfig) -> Arc<Handle> {
        Arc::new(Handle {
            config,
            wake: tokio::sync::Notify::new(),
            updates: tokio::sync::broadcast::channel(256).0,
            status: Mutex::new(Status::default()),
            backlog: std::sync::atomic::AtomicI64::new(0),
        })
    }

    /// Whether ingest should turn batches away until the monitor catches up.
    pub fn overloaded(&self) -> bool {
        self.config.enabled
            && self.backlog.load(std::sync::atomic::Ordering::Relaxed) > self.config.max_backlog
    }

    pub fn status(&self) -> Status {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        match self.status.lock() {
            Ok(mut s) => f(&mut s),
            Err(p) => f(&mut p.into_inner()),
        }
    }
}

/// What the monitor reads besides the database.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub audits_dir: PathBuf,
    pub platform_dir: PathBuf,
    pub pseudonym_key: Vec<u8>,
}

/// Where things happen: worker → agency → town → outlet, from the platform data.
#[derive(Debug, Default)]
pub struct Places {
    worker_agency: HashMap<String, String>,
    agency_town: HashMap<String, String>,
    outlet_town: HashMap<String, String>,
    town_outlet: HashMap<String, String>,
    complaint_outlet: HashMap<String, String>,
}

impl Places {
    pub fn new(p: &Platform) -> Places {
        let mut pl = Places::default();
        for w in &p.workers {
            pl.worker_agency.insert(w.id.clone(), w.agency_id.clone());
        }
        for a in &p.agencies {
            pl.agency_town.insert(a.id.clone(), a.town.clone());
        }
        for o in &p.outlets {
            pl.outlet_town.insert(o.id.clone(), o.town.clone());
            pl.town_outlet
                .entry(o.town.clone())
                .or_insert_with(|| o.id.clone());
        }
        for c in &p.complaints {
            pl.complaint_outlet
                .insert(c.id.clone(), c.outlet_id.clone());
        }
        pl
    }

    /// (outlet, town) from what is known about a case or record.
    pub fn place(&self, attrs: &HashMap<String, String>) -> (Option<String>, Option<String>) {
        let outlet = attrs.get("outlet_id").cloned();
        let town = attrs
            .get("town")
            .cloned()
            .or_else(|| {
                outlet
                    .as_ref()
                    .and_then(|o| self.outlet_town.get(o).cloned())
            })
            .or_else(|| {
                let agency = attrs.get("agency_id").or_else(|| {
                    attrs
                        .get("worker_id")
                        .and_then(|w| self.worker_agency.get(w))
                })?;
                self.agency_town.get(agency).cloned()
            });
        let outlet =
            outlet.or_else(|| town.as_ref().and_then(|t| self.town_outlet.get(t).cloned()));
        (outlet, town)
    }

    fn record(&self, entity: Entity, id: &str) -> (Option<String>, Option<String>) {
        let mut a = HashMap::new();
        match entity {
            Entity::Workers => {
                a.insert("worker_id".to_string(), id.to_string());
            }
            Entity::Agencies => {
                a.insert("agency_id".to_string(), id.to_string());
            }
            Entity::Outlets => {
                a.insert("outlet_id".to_string(), id.to_string());
            }
            Entity::Complaints => {
                if let Some(o) = self.complaint_outlet.get(id) {
                    a.insert("outlet_id".to_string(), o.clone());
                }
            }
            Entity::Trainings | Entity::Surveys => {}
        }
        self.place(&a)
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Major => "major",
        Severity::Minor => "minor",
    }
}

fn fmt_t(t: Micros) -> String {
    let s = time::format_instant(t, 480);
    // 2024-05-01T10:00:00+08:00 → 2024-05-01 10:00:00
    s.get(..19).map(|x| x.replace('T', " ")).unwrap_or(s)
}

fn now_us() -> Micros {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The monitor's state between rounds.
pub struct Monitor {
    pub online: Online,
    places: Places,
    /// Warned or violated obligations as last committed: case → key → state.
    flags: HashMap<String, HashMap<String, State>>,
    /// Pending / warned counts per case (the status line).
    open: HashMap<String, (usize, usize)>,
    timers: BinaryHeap<Reverse<(Micros, String)>>,
    scheduled: HashMap<String, Micros>,
    watermark: Micros,
    clock: Clock,
    webhook: bool,
}

impl Monitor {
    pub fn new(rules: RuleSet, places: Places, config: &MonitorConfig) -> Monitor {
        let mut online = Online::new(rules, Some(480));
        if let Some(c) = config.close_after {
            online.close_after = c;
        }
        Monitor {
            online,
            places,
            flags: HashMap::new(),
            open: HashMap::new(),
            timers: BinaryHeap::new(),
            scheduled: HashMap::new(),
            watermark: i64::MIN,
            clock: config.clock,
            webhook: config.webhook.is_some(),
        }
    }

    fn now(&self) -> Micros {
        match self.clock {
            Clock::Wall => now_us(),
            Clock::Events => self.watermark,
        }
    }

    fn add(&mut self, e: &StoredEvent) -> Option<Micros> {
        let empty = serde_json::Map::new();
        let attrs = e.attrs.as_object().unwrap_or(&empty);
        self.online
            .add(e.seq, &e.id, &e.case_id, &e.activity, &e.timestamp, attrs);
        time::parse_instant(&e.timestamp, None).ok().map(|t| t.0)
    }

    /// Rebuilds memory from the database.
    pub async fn restore(&mut self, db: &Db) -> Result<(), crate::db::accounts::AccountError> {
        for e in db.live_open_events().await? {
            if let Some(t) = self.add(&e) {
                self.watermark = self.watermark.max(t);
            }
        }
        for (case, key, state) in db.live_open_flags().await? {
            if let Some(s) = State::parse(&state) {
                self.flags.entry(case).or_default().insert(key, s);
            }
        }
        if let Some(w) = db.live_watermark().await? {
            self.watermark = self.watermark.max(w);
        }
        Ok(())
    }

    /// One round over `events` (already stored): what to commit. `reopen` are the
    /// cases among them that were closed before (their earlier events are in
    /// `earlier`).
    pub fn round(
        &mut self,
        events: &[StoredEvent],
        earlier: &[StoredEvent],
        all: bool,
    ) -> LiveCommit {
        let mut c = LiveCommit {
            webhook: self.webhook,
            ..Default::default()
        };
        let reopened: HashSet<&str> = earlier.iter().map(|e| e.case_id.as_str()).collect();
        for e in earlier {
            self.add(e);
        }
        let mut deltas: HashMap<String, CaseDelta> = HashMap::new();
        for e in events {
            let t = self.add(e).unwrap_or(0);
            self.watermark = self.watermark.max(t);
            c.done.push(e.seq);
            let d = deltas
                .entry(e.case_id.clone())
                .or_insert_with(|| CaseDelta {
                    case_id: e.case_id.clone(),
                    events: 0,
                    first_at: t,
                    last_at: t,
                    outlet: None,
                    town: None,
                    closed: reopened.contains(e.case_id.as_str()).then_some(None),
                });
            d.events += 1;
            d.first_at = d.first_at.min(t);
            d.last_at = d.last_at.max(t);
        }
        let now = self.now();
        // Cases to evaluate: touched, timers due, or (after a restart) all.
        let mut todo: Vec<String> = if all {
            self.online.cases.keys().cloned().collect()
        } else {
            deltas.keys().cloned().collect()
        };
        while let Some(Reverse((t, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            if let Some(Reverse((t, case))) = self.timers.pop()
                && self.scheduled.get(&case) == Some(&t)
            {
                self.scheduled.remove(&case);
                todo.push(case);
            }
        }
        todo.sort();
        todo.dedup();
        for case in todo {
            let Some(lc) = self.online.cases.get(&case) else {
                continue;
            };
            let closing = now > lc.last_at.saturating_add(self.online.close_after);
            let place = self.places.place(&lc.place);
            let (first_at, last_at) = (lc.first_at, lc.last_at);
            let ev = self.online.evaluate(&case, now, closing);
            self.diff(&case, &ev.obligations, &place, &mut c);
            let d = deltas.entry(case.clone()).or_insert_with(|| CaseDelta {
                case_id: case.clone(),
                events: 0,
                first_at,
                last_at,
                outlet: None,
                town: None,
                closed: None,
            });
            d.outlet = place.0.clone();
            d.town = place.1.clone();
            if closing {
                d.closed = Some(Some(crate::db::now()));
                c.closed.push(case.clone());
                self.online.remove(&case);
                self.flags.remove(&case);
                self.open.remove(&case);
                self.scheduled.remove(&case);
            } else {
                let counts = ev
                    .obligations
                    .iter()
                    .fold((0, 0), |(p, w), o| match o.state {
                        State::Pending => (p + 1, w),
                        State::Warned => (p, w + 1),
                        State::Violated => (p, w),
                    });
                self.open.insert(case.clone(), counts);
                if let Some(wake) = ev.wake
                    && self.scheduled.get(&case) != Some(&wake)
                {
                    self.scheduled.insert(case.clone(), wake);
                    self.timers.push(Reverse((wake, case)));
                }
            }
        }
        c.cases = deltas.into_values().collect();
        c.cases.sort_by(|a, b| a.case_id.cmp(&b.case_id));
        c
    }

    /// Compares a case's obligations with its committed flags.
    fn diff(
        &mut self,
        case: &str,
        obligations: &[Obligation],
        place: &(Option<String>, Option<String>),
        c: &mut LiveCommit,
    ) {
        let rules = self.online.rules();
        let prev = self.flags.remove(case).unwrap_or_default();
        let mut next: HashMap<String, State> = HashMap::new();
        for o in obligations {
            if o.state == State::Pending {
                continue;
            }
            let key = o.key(rules);
            let Some(rule) = rules.get(o.rule) else {
                continue;
            };
            let before = prev.get(&key).copied();
            next.insert(key.clone(), o.state);
            if before == Some(o.state) {
                continue;
            }
            c.flags.push((
                case.to_string(),
                key.clone(),
                Some(o.state.as_str().to_string()),
            ));
            let kind = match o.state {
                State::Warned => "warning",
                _ => "violation",
            };
            let mut detail = format!("订单 {case}：{} {}", o.activity, fmt_t(o.at));
            if let Some(d) = o.due {
                detail.push_str(&format!("，期限 {}", fmt_t(d)));
            }
            if o.state == State::Warned {
                detail.push_str("，尚未完成");
            }
            c.raise.push(NewAlert {
                kind: kind.into(),
                source: "workflow".into(),
                subject: case.to_string(),
                okey: key.clone(),
                rule_id: rule.id.clone(),
                title: rule.title.clone(),
                clauses: rule.clauses.clone(),
                severity: severity_name(rule.severity).into(),
                detail,
                outlet: place.0.clone(),
                town: place.1.clone(),
                at_us: Some(o.at),
                due_us: o.due,
            });
            match (before, o.state) {
                (Some(State::Warned), State::Violated) => c.resolve.push(AutoResolve {
                    kind: "warning".into(),
                    source: "workflow".into(),
                    subject: case.to_string(),
                    okey: key.clone(),
                    resolution: "已超过期限，转为违规".into(),
                }),
                (Some(State::Violated), State::Warned) => c.resolve.push(AutoResolve {
                    kind: "violation".into(),
                    source: "workflow".into(),
                    subject: case.to_string(),
                    okey: key.clone(),
                    resolution: "迟到的事件表明尚在期限内，违规撤销".into(),
                }),
                _ => {}
            }
        }
        for (key, st) in &prev {
            if next.contains_key(key) {
                continue;
            }
            c.flags.push((case.to_string(), key.clone(), None));
            let (kind, resolution) = match st {
                State::Violated => ("violation", "迟到的事件表明已在期限内完成，违规撤销"),
                _ => ("warning", "已在期限内完成"),
            };
            c.resolve.push(AutoResolve {
                kind: kind.into(),
                source: "workflow".into(),
                subject: case.to_string(),
                okey: key.clone(),
                resolution: resolution.into(),
            });
        }
        if !next.is_empty() {
            self.flags.insert(case.to_string(), next);
        }
    }

    /// When the next timer is due (to sleep until then).
    pub fn next_timer(&self) -> Option<Micros> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn status(&self) -> (usize, usize, usize) {
        let (p, w) = self
            .open
            .values()
            .fold((0, 0), |(p, w), (a, b)| (p + a, w + b));
        (self.online.cases.len(), p, w)
    }
}

/// Record checks as of `now` (violations) and `now + horizon` (warnings): alerts to
/// raise and to resolve, given the open record alerts.
pub fn record_round(
    checks: &CheckSet,
    platform: &Platform,
    places: &Places,
    now: Micros,
    horizon: Micros,
    open: &[(String, String, String)],
    webhook: bool,
) -> LiveCommit {
    let mut c = LiveCommit {
        webhook,
        ..Default::default()
    };
    let mut current: HashSet<(String, String, String)> = HashSet::new();
    for r in &checks.records {
        let failing = crate::audit::checks::failing_records(r, platform, now);
        let now_ids: HashSet<String> = failing.iter().map(|s| s.id.clone()).collect();
        let later = crate::audit::checks::failing_records(r, platform, now.saturating_add(horizon));
        let entity = crate::audit::checks::entity_key(r.entity);
        let mut raise = |kind: &str, s: &crate::audit::checks::Sample, c: &mut LiveCommit| {
            let subject = format!("{entity}:{}", s.id);
            current.insert((kind.to_string(), subject.clone(), r.id.clone()));
            let (outlet, town) = places.record(r.entity, &s.id);
            let fields = s
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("，");
            let mut detail = format!("{} {} {}", r.entity.label(), s.id, s.name);
            if kind == "warning" {
                detail.push_str(&format!("：{} 天内将不再符合", horizon / 86_400_000_000));
            }
            if !fields.is_empty() {
                detail.push_str(&format!("（{fields}）"));
            }
            c.raise.push(NewAlert {
                kind: kind.into(),
                source: "record".into(),
                subject,
                okey: r.id.clone(),
                rule_id: r.id.clone(),
                title: r.title.clone(),
                clauses: r.clauses.clone(),
                severity: severity_name(r.severity).into(),
                detail,
                outlet,
                town,
                at_us: None,
                due_us: None,
            });
        };
        for s in &failing {
            raise("violation", s, &mut c);
        }
        for s in later.iter().filter(|s| !now_ids.contains(&s.id)) {
            raise("warning", s, &mut c);
        }
    }
    for (kind, subject, key) in open {
        if !current.contains(&(kind.clone(), subject.clone(), key.clone())) {
            c.resolve.push(AutoResolve {
                kind: kind.clone(),
                source: "record".into(),
                subject: subject.clone(),
                okey: key.clone(),
                resolution: if kind == "warning" {
                    "记录已更新，不再临近到期".into()
                } else {
                    "记录已恢复符合".into()
                },
            });
        }
    }
    // Already-open alerts are not raised again (the insert would be a no-op anyway).
    let open: HashSet<(&str, &str, &str)> = open
        .iter()
        .map(|(a, b, k)| (a.as_str(), b.as_str(), k.as_str()))
        .collect();
    c.raise
        .retain(|a| !open.contains(&(a.kind.as_str(), a.subject.as_str(), a.okey.as_str())));
    c
}

fn platform_fingerprint(
    dir: &std::path::Path,
) -> Vec<(String, u64, Option<std::time::SystemTime>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((
                        e.file_name().to_string_lossy().into_owned(),
                        m.len(),
                        m.modified().ok(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs the monitor until the process ends; restarts itself from the database after
/// an error.
pub async fn run(db: Db, inputs: Inputs, handle: Arc<Handle>) {
    if !handle.config.enabled {
        return;
    }
    if let Some(w) = handle.config.webhook.clone() {
        tokio::spawn(deliver(db.clone(), w));
    }
    loop {
        match run_once(&db, &inputs, &handle).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "monitor stopped; restarting from the database");
                handle.set_status(|s| {
                    s.running = false;
                    s.error = Some(e.clone());
                });
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

fn load_platform(inputs: &Inputs) -> Option<Platform> {
    if !inputs.platform_dir.exists() {
        return None;
    }
    crate::platform::import::import_dir(
        &inputs.platform_dir,
        &crate::platform::import::Options {
            key: &inputs.pseudonym_key,
        },
    )
    .map_err(|e| tracing::warn!(error = %e, "monitor: platform data unreadable"))
    .ok()
}

/// One round: up to `batch` unprocessed events (and the cases they reopen) →
/// [`Monitor::round`] → one commit. `all` re-evaluates every open case (after a
/// restart). Returns the number of events processed.
pub async fn step(
    db: &Db,
    m: &mut Monitor,
    batch: i64,
    all: bool,
    handle: &Handle,
) -> Result<usize, String> {
    let events = db.live_todo(batch).await.map_err(|e| e.to_string())?;
    let mut new_cases: Vec<String> = events
        .iter()
        .filter(|e| !m.online.cases.contains_key(&e.case_id))
        .map(|e| e.case_id.clone())
        .collect();
    new_cases.sort();
    new_cases.dedup();
    let earlier = if new_cases.is_empty() {
        Vec::new()
    } else {
        let closed = db
            .live_closed_among(&new_cases)
            .await
            .map_err(|e| e.to_string())?;
        if closed.is_empty() {
            Vec::new()
        } else {
            // A late event reopens a closed case: its earlier events and the flags
            // it closed with come back, so a violation it now disproves is retracted.
            for (case, key, state) in db.live_flags_of(&closed).await.map_err(|e| e.to_string())? {
                if let Some(s) = State::parse(&state) {
                    m.flags.entry(case).or_default().insert(key, s);
                }
            }
            db.live_case_events(&closed)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let commit = m.round(&events, &earlier, all);
    if !commit.is_empty() {
        let applied = db.live_commit(&commit).await.map_err(|e| e.to_string())?;
        if !applied.raised.is_empty() || !applied.resolved.is_empty() {
            let _ = handle.updates.send(
                serde_json::json!({"raised": applied.raised, "resolved": applied.resolved})
                    .to_string(),
            );
        }
    }
    Ok(events.len())
}

/// Record alerts per transaction (see `LiveCommit::into_parts`).
const RECORD_ALERTS_PER_COMMIT: usize = 500;

/// The PostgreSQL advisory lock that makes one server of several the monitor; the
/// second key is the schema's, since advisory locks are per database and several
/// installations may share one database in separate schemas.
const MONITOR_LOCK: i32 = 0x627a_6d6e; // "bzmn"

async fn run_once(db: &Db, inputs: &Inputs, handle: &Handle) -> Result<(), String> {
    let cfg = &handle.config;
    // Several servers on one PostgreSQL database: one monitors, the others stand by
    // (the lock belongs to this connection, so it goes when the server does).
    let _lock = match db.backend {
        crate::db::Backend::Postgres => {
            let mut conn = db.pool.acquire().await.map_err(|e| e.to_string())?;
            loop {
                use sqlx::Row;
                let ok: bool = sqlx::query(
                    "SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS ok",
                )
                .bind(MONITOR_LOCK)
                .fetch_one(&mut *conn)
                .await
                .and_then(|r| r.try_get("ok"))
                .map_err(|e| e.to_string())?;
                if ok {
                    break;
                }
                handle.set_status(|s| {
                    s.running = false;
                    s.error = Some("另一台服务器正在运行实时监测（本机待命）".into());
                });
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Some(conn.detach())
        }
        crate::db::Backend::Sqlite => None,
    };
    let rules = RuleSet::load(std::slice::from_ref(&inputs.audits_dir)).map_err(|d| {
        format!(
            "规则文件有错误：{}",
            d.first().map(|d| d.to_string()).unwrap_or_default()
        )
    })?;
    let checks =
        Arc::new(CheckSet::load(std::slice::from_ref(&inputs.audits_dir)).unwrap_or_default());
    // Reading the platform and checking records are CPU work: off the async threads.
    let load = |inputs: &Inputs| {
        let inputs = inputs.clone();
        tokio::task::spawn_blocking(move || load_platform(&inputs).map(Arc::new))
    };
    let mut platform = load(inputs).await.map_err(|e| e.to_string())?;
    let mut fingerprint = platform_fingerprint(&inputs.platform_dir);
    let places = platform.as_deref().map(Places::new).unwrap_or_default();
    let mut m = Monitor::new(rules, places, cfg);
    m.restore(db).await.map_err(|e| e.to_string())?;
    // Every open case at the current instant: deadlines passed while down fire now.
    let mut first = true;
    let mut records_due = std::time::Instant::now();
    handle.set_status(|s| {
        s.running = true;
        s.error = None;
    });
    loop {
        // SQLite has one writer: shorter rounds keep ingest's waits short.
        let batch = match db.backend {
            crate::db::Backend::Sqlite => cfg.batch.min(1_000),
            crate::db::Backend::Postgres => cfg.batch,
        };
        let n = step(db, &mut m, batch, first, handle).await?;
        first = false;
        if n as i64 >= batch || handle.overloaded() {
            let b = db.live_backlog().await.map_err(|e| e.to_string())?;
            handle
                .backlog
                .store(b, std::sync::atomic::Ordering::Relaxed);
        } else {
            handle
                .backlog
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        let (open_cases, pending, warned) = m.status();
        let now_s = fmt_t(m.now());
        handle.set_status(|s| {
            s.processed += n as u64;
            s.open_cases = open_cases;
            s.pending = pending;
            s.warned = warned;
            s.now = now_s;
        });
        // Record checks: on schedule, and when the platform data changes.
        let fp = platform_fingerprint(&inputs.platform_dir);
        if fp != fingerprint || std::time::Instant::now() >= records_due {
            if fp != fingerprint {
                platform = load(inputs).await.map_err(|e| e.to_string())?;
                fingerprint = fp;
            }
            if let Some(p) = platform.clone() {
                let open = db
                    .live_open_alert_keys("record")
                    .await
                    .map_err(|e| e.to_string())?;
                let (checks, at, horizon, hook) = (
                    checks.clone(),
                    now_us() + cfg.records_shift,
                    cfg.horizon,
                    cfg.webhook.is_some(),
                );
                let c = tokio::task::spawn_blocking(move || {
                    record_round(&checks, &p, &Places::new(&p), at, horizon, &open, hook)
                })
                .await
                .map_err(|e| e.to_string())?;
                for part in c.into_parts(RECORD_ALERTS_PER_COMMIT) {
                    let applied = db.live_commit(&part).await.map_err(|e| e.to_string())?;
                    if !applied.raised.is_empty() || !applied.resolved.is_empty() {
                        let _ = handle.updates.send(
                            serde_json::json!({"raised": applied.raised, "resolved": applied.resolved})
                                .to_string(),
                        );
                    }
                    // Let the web's writers in between parts.
                    tokio::task::yield_now().await;
                }
                handle.set_status(|s| s.records_at = Some(crate::db::now()));
            }
            records_due = std::time::Instant::now() + cfg.records_every;
        }
        if n as i64 >= batch {
            continue;
        }
        // Idle: sleep until an ingest, the next timer (wall clock) or a second.
        let mut wait = Duration::from_secs(1);
        if cfg.clock == Clock::Wall
            && let Some(t) = m.next_timer()
        {
            let d = (t - now_us()).max(0) as u64;
            wait = wait.min(Duration::from_micros(d));
        }
        if n == 0 {
            let _ = tokio::time::timeout(wait, handle.wake.notified()).await;
        }
    }
}

/// The demo's feed: a generated week of orders, its first day in the past, released
/// in real time into the database. The week's start is kept in
/// `DATA/demo-feed.json`, so a restart continues the same week (event ids repeat,
/// and are stored once).
pub async fn demo_feed(db: Db, data: PathBuf, handle: Arc<Handle>) {
    use super::feed;
    use crate::audit::generate::{OutFormat, Settings, generate};
    let mut s = Settings::new(2_000, 2026);
    s.days = 7;
    let mut buf = Vec::new();
    if generate(&s, OutFormat::Csv, &mut buf).is_err() {
        return;
    }
    let Ok(mut events) = feed::parse_log(&String::from_utf8_lossy(&buf), "demo", "demo") else {
        return;
    };
    let Some(first) = events.first().map(|e| e.at_us) else {
        return;
    };
    let file = data.join("demo-feed.json");
    let origin = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["start_us"].as_i64())
        .unwrap_or_else(|| {
            let start = feed::now_us() - 86_400_000_000;
            let _ = std::fs::write(&file, serde_json::json!({ "start_us": start }).to_string());
            start
        });
    feed::shift(&mut events, origin - first);
    let now = feed::now_us();
    feed::play(&events, now, now, 1.0, 1_000, |batch| {
        let db = db.clone();
        let handle = handle.clone();
        async move {
            let ok = db.ingest_events(&batch, "demo").await.is_ok();
            handle.wake.notify_one();
            ok
        }
    })
    .await;
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// Attempts before a delivery is given up (backoff 2, 4, … 600 s: about 1.5 h).
pub const MAX_ATTEMPTS: i64 = 14;

/// Seconds to wait after failed attempt number `attempts` (1-based).
pub fn backoff(attempts: i64) -> i64 {
    (1i64 << attempts.clamp(1, 10)).min(600)
}

/// Sends queued webhook deliveries, oldest first, retrying with backoff.
async fn deliver(db: Db, hook: Webhook) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "webhook client");
            return;
        }
    };
    loop {
        let now = crate::db::now();
        let due = db.webhook_due(now, 50).await.unwrap_or_default();
        for d in &due {
            let t = crate::db::now();
            let res = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("x-biaozhun-delivery", d.id.to_string())
                .header("x-biaozhun-signature", signature(&hook.secret, t, &d.body))
                .body(d.body.clone())
                .send()
                .await;
            let outcome = match res {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Err(e.to_string()),
            };
            let attempts = d.attempts + 1;
            let next = (attempts < MAX_ATTEMPTS).then(|| crate::db::now() + backoff(attempts));
            if let Err(e) = db.webhook_attempt(d.id, outcome, next).await {
                tracing::warn!(error = %e, "webhook bookkeeping");
            }
        }
        if due.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_and_body() {
        // Independent: HMAC-SHA-256("k", "1.{}") computed with Python's hmac module.
        assert_eq!(
            signature("k", 1, "{}"),
            "t=1,v1=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(1), 2);
        assert_eq!(backoff(2), 4);
        assert_eq!(backoff(9), 512);
        assert_eq!(backoff(10), 600);
        assert_eq!(backoff(14), 600);
    }
}
