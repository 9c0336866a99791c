//! Live monitoring over HTTP: `POST /api/v1/events` (the platform pushes batches) and
//! `GET /api/v1/events` (read back in arrival order).
//!
//! Back-pressure: at most [`INGEST_SLOTS`] batches are validated and stored at once.
//! A batch that cannot get a slot within [`SLOT_WAIT`] is answered 503 with
//! `Retry-After` at once, so a client sending faster than the database commits is
//! slowed down instead of queueing unbounded work (and memory) in the server.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppError, AppState, Viewer};
use crate::monitor::ingest::{BatchError, parse_batch};

/// Batches stored concurrently.
pub const INGEST_SLOTS: usize = 8;
/// How long a batch may wait for a slot before it is turned away.
pub const SLOT_WAIT: Duration = Duration::from_millis(50);

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, axum::Json(v)).into_response()
}

pub async fn ingest(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: Bytes,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    if state.monitor.overloaded() {
        let mut r = json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": "实时监测处理积压，请在 Retry-After 秒后重发这一批（事件按 id 去重，重发是安全的）" }),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return Ok(r);
    }
    let Ok(Ok(_permit)) = tokio::time::timeout(SLOT_WAIT, state.ingest_slots.acquire()).await
    else {
        let mut r = json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": "服务器正忙，请在 Retry-After 秒后重发这一批（事件按 id 去重，重发是安全的）" }),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return Ok(r);
    };
    let events = match parse_batch(&body) {
        Ok(e) => e,
        Err(BatchError::Invalid(errors)) => {
            return Ok(json(
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({ "error": "这一批有无效事件，整批未保存；请更正后重发", "errors": errors }),
            ));
        }
        Err(e @ BatchError::TooLarge(_)) => {
            return Ok(json(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({ "error": e.to_string() }),
            ));
        }
        Err(e) => {
            return Ok(json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": e.to_string() }),
            ));
        }
    };
    let stored = state
        .db
        .ingest_events(&events, &format!("api:{}", user.username))
        .await?;
    state.monitor.wake.notify_one();
    Ok(json(StatusCode::OK, serde_json::json!(stored)))
}

#[derive(Deserialize)]
pub struct AfterQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    1000
}

pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<AfterQuery>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let events = state
        .db
        .events_after(q.after, q.limit.clamp(1, 10_000))
        .await?;
    let last = events.last().map(|e| e.seq).unwrap_or(q.after);
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "events": events, "last_seq": last }),
    ))
}

// ---------------------------------------------------------------------------------
// Alerts: the live page, the 驾驶舱, the stream and the actions.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Path;
use axum::response::sse::{Event, KeepAlive, Sse};

use super::pages::Nav;
use crate::db::live::{Alert, AlertFilter, TownRow, today_start};
use crate::monitor::service::Status;

#[derive(Deserialize, Default)]
pub struct AlertQuery {
    state: Option<String>,
    kind: Option<String>,
    outlet: Option<String>,
    clause: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

impl AlertQuery {
    fn filter(&self) -> AlertFilter {
        let some = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        AlertFilter {
            state: match self.state.as_deref() {
                None => Some("open".into()),
                Some("all") | Some("") => None,
                Some(s) => Some(s.to_string()),
            },
            kind: some(&self.kind),
            outlet: some(&self.outlet),
            clause: some(&self.clause),
            after: self.after,
            limit: self.limit.unwrap_or(200).clamp(1, 1000),
        }
    }
}

/// An alert as the page shows it.
pub struct AlertRow {
    pub id: i64,
    pub kind: &'static str,
    pub kind_class: &'static str,
    pub source: &'static str,
    pub title: String,
    pub clauses: String,
    pub severity: &'static str,
    pub detail: String,
    pub place: String,
    pub state: &'static str,
    pub state_code: String,
    pub assignee: String,
    pub raised: String,
    pub resolution: String,
}

fn fmt_secs(s: i64) -> String {
    crate::audit::time::format_instant(s * 1_000_000, 480)
        .get(..16)
        .map(|x| x.replace('T', " "))
        .unwrap_or_default()
}

fn alert_row(a: &Alert) -> AlertRow {
    AlertRow {
        id: a.id,
        kind: if a.kind == "warning" {
            "预警"
        } else {
            "违规"
        },
        kind_class: if a.kind == "warning" { "warn" } else { "bad" },
        source: if a.source == "record" {
            "记录"
        } else {
            "订单流程"
        },
        title: a.title.clone(),
        clauses: a.clauses.join("、"),
        severity: match a.severity.as_str() {
            "critical" => "严重",
            "minor" => "轻微",
            _ => "一般",
        },
        detail: a.detail.clone(),
        place: match (&a.town, &a.outlet) {
            (Some(t), Some(o)) => format!("{t}（{o}）"),
            (Some(t), None) => t.clone(),
            (None, Some(o)) => o.clone(),
            (None, None) => "未归属".into(),
        },
        state: match a.state.as_str() {
            "open" => "待处理",
            "acknowledged" => "已确认",
            _ => "已关闭",
        },
        state_code: a.state.clone(),
        assignee: a.assignee.clone().unwrap_or_default(),
        raised: fmt_secs(a.raised_at),
        resolution: a.resolution.clone().unwrap_or_default(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor.html")]
pub struct AlertsPage {
    nav: Nav,
    alerts: Vec<AlertRow>,
    status: Status,
    backlog: i64,
    state: String,
    kind: String,
    outlet: String,
    clause: String,
    outlets: Vec<String>,
    /// Open alerts per clause and per outlet: (key, warnings, violations).
    by_clause: Vec<(String, usize, usize)>,
    by_outlet: Vec<(String, usize, usize)>,
}

/// (key, warnings, violations) per key, most violations first.
fn tally<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, usize, usize)> {
    let mut m: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for (key, kind) in items {
        let e = m.entry(key).or_default();
        if kind == "warning" {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let mut v: Vec<_> = m
        .into_iter()
        .map(|(k, (w, x))| (k.to_string(), w, x))
        .collect();
    v.sort_by(|a, b| (b.2, b.1).cmp(&(a.2, a.1)).then(a.0.cmp(&b.0)));
    v
}

pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<AlertQuery>,
) -> Result<AlertsPage, AppError> {
    viewer.signed()?;
    let alerts = state.db.alerts(&q.filter()).await?;
    let mut outlets: Vec<String> = crate::platform::import::outlet_names(&state.platform_dir)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    outlets.sort();
    let open = state.db.open_alert_places().await?;
    let by_clause = tally(
        open.iter()
            .flat_map(|(cs, kind, _)| cs.iter().map(move |c| (c.as_str(), kind.as_str()))),
    );
    let by_outlet = tally(
        open.iter()
            .map(|(_, kind, o)| (o.as_deref().unwrap_or("未归属"), kind.as_str())),
    );
    Ok(AlertsPage {
        by_clause,
        by_outlet,
        nav: Nav::of(&viewer),
        alerts: alerts.iter().map(alert_row).collect(),
        status: state.monitor.status(),
        backlog: state.db.live_backlog().await?,
        state: q.state.clone().unwrap_or_else(|| "open".into()),
        kind: q.kind.clone().unwrap_or_default(),
        outlet: q.outlet.clone().unwrap_or_default(),
        clause: q.clause.clone().unwrap_or_default(),
        outlets,
    })
}

#[derive(Deserialize)]
pub struct ActForm {
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    back: String,
}

/// One action on an alert, for the page and the API alike: 404 for an unknown
/// alert, the refusal's reason otherwise; the live pages are told.
async fn perform(
    state: &AppState,
    id: i64,
    action: &str,
    actor: &str,
    note: &str,
    assignee: Option<&str>,
) -> Result<Alert, AppError> {
    state.db.alert(id).await?.ok_or(AppError::NotFound)?;
    let a = state
        .db
        .alert_act(
            id,
            action,
            actor,
            note,
            assignee.filter(|s| !s.trim().is_empty()),
            state.monitor.config.webhook.is_some(),
        )
        .await?;
    let _ = state
        .monitor
        .updates
        .send(serde_json::json!({"changed": [id]}).to_string());
    Ok(a)
}

pub async fn act(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ActForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    perform(
        &state,
        id,
        &f.action,
        &user.username,
        &f.note,
        Some(&f.assignee),
    )
    .await?;
    // Back to the list the user came from (only our own paths).
    let back = if f.back.starts_with("/monitor") && !f.back.starts_with("//") {
        f.back
    } else {
        "/monitor".into()
    };
    Ok(axum::response::Redirect::to(&back).into_response())
}

pub async fn api_alerts(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<AlertQuery>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let alerts = state.db.alerts(&q.filter()).await?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "alerts": alerts, "status": state.monitor.status() }),
    ))
}

#[derive(Deserialize)]
pub struct ActJson {
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    assignee: Option<String>,
}

pub async fn api_act(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::Json(f): axum::Json<ActJson>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let a = perform(
        &state,
        id,
        &f.action,
        &user.username,
        &f.note,
        f.assignee.as_deref(),
    )
    .await?;
    Ok(json(StatusCode::OK, serde_json::json!(a)))
}

pub async fn api_alert(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let (a, actions) = state.db.alert(id).await?.ok_or(AppError::NotFound)?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "alert": a, "actions": actions }),
    ))
}

/// Server-sent events: one `alerts` message per change, so the page refreshes at
/// once; a comment every 15 s keeps proxies from closing the connection.
pub async fn stream(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let mut rx = state.monitor.updates.subscribe();
    let s = async_stream(move |tx| async move {
        loop {
            match rx.recv().await {
                Ok(msg) => {
                    if tx
                        .send(Ok(Event::default().event("alerts").data(msg)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if tx
                        .send(Ok(Event::default().event("alerts").data("{}")))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    Ok(Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// A stream fed by a task through a small channel (no extra crate needed).
fn async_stream<F, Fut>(
    f: F,
) -> impl futures_core::Stream<Item = Result<Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, std::convert::Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "monitor_dashboard.html")]
pub struct DashboardPage {
    nav: Nav,
    today: crate::db::live::Today,
    towns: Vec<(TownRow, String)>,
    total_trend: String,
    status: Status,
    backlog: i64,
    webhook: Option<(i64, i64, i64)>,
    days: i64,
}

/// Polyline points of a sparkline 120×24 over `v`.
pub fn sparkline(v: &[i64]) -> String {
    let max = v.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = v.len().max(2) as f64 - 1.0;
    v.iter()
        .enumerate()
        .map(|(i, x)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * 120.0 / n,
                22.0 - (*x as f64 / max) * 20.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const TREND_DAYS: i64 = 14;

pub async fn dashboard(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<DashboardPage, AppError> {
    viewer.signed()?;
    let since = today_start(crate::db::now());
    let today = state.db.live_today(since).await?;
    let towns = state.db.live_towns(since, TREND_DAYS).await?;
    let mut total = vec![0i64; TREND_DAYS as usize];
    for t in &towns {
        for (i, x) in t.trend.iter().enumerate() {
            if let Some(s) = total.get_mut(i) {
                *s += x;
            }
        }
    }
    let webhook = match state.monitor.config.webhook {
        Some(_) => Some(state.db.webhook_counts().await?),
        None => None,
    };
    Ok(DashboardPage {
        nav: Nav::of(&viewer),
        today,
        towns: towns
            .into_iter()
            .map(|t| {
                let s = sparkline(&t.trend);
                (t, s)
            })
            .collect(),
        total_trend: sparkline(&total),
        status: state.monitor.status(),
        backlog: state.db.live_backlog().await?,
        webhook,
        days: TREND_DAYS,
    })
}

pub async fn api_dashboard(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let since = today_start(crate::db::now());
    Ok(json(
        StatusCode::OK,
        serde_json::json!({
            "today": state.db.live_today(since).await?,
            "towns": state.db.live_towns(since, TREND_DAYS).await?,
            "status": state.monitor.status(),
            "backlog": state.db.live_backlog().await?,
        }),
    ))
}
