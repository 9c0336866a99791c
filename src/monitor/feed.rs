//! Replaying an order log as a live stream: `biaozhun monitor replay` and the demo's
//! feed.
//!
//! The log's events are sorted by time and, unless told otherwise, moved so the
//! first one happens at a chosen instant (now, or a day ago for the demo). Every
//! instant-valued attribute moves with them, since rules compare
//! `appointment_start` with the event's time. The events are then released as the
//! shifted time passes (`speed` × real time) in batches, each with a stable id
//! (`<name>:<record number>`), so a replay that is stopped and started again sends
//! nothing twice.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::ingest::NewEvent;
use crate::audit::time::{self, Micros};

/// Columns that are not attributes.
const CASE: [&str; 3] = ["case_id", "case", "订单编号"];
const ACTIVITY: [&str; 3] = ["activity", "活动", "环节"];
const TIMESTAMP: [&str; 3] = ["timestamp", "time", "时间"];

fn looks_like_instant(s: &str) -> bool {
    s.len() >= 16 && s.as_bytes().get(4) == Some(&b'-') && s.contains('T')
}

/// Reads a CSV or JSON Lines order log (the columns of `docs/audit-rules.md`; the
/// generator's logs) into events sorted by time. `name` prefixes the event ids.
pub fn read_log(path: &Path, name: &str) -> Result<Vec<NewEvent>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse_log(&text, name, &path.display().to_string())
}

/// [`read_log`] over text already in memory; `shown` names it in errors.
pub fn parse_log(text: &str, name: &str, shown: &str) -> Result<Vec<NewEvent>, String> {
    let first = text.trim_start_matches('\u{feff}').trim_start();
    let rows: Vec<(usize, Map<String, Value>)> = if first.starts_with('{') {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => rows.push((i + 1, m)),
                _ => return Err(format!("{shown}:{}: not a JSON object", i + 1)),
            }
        }
        rows
    } else {
        let mut rd = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = rd
            .headers()
            .map_err(|e| format!("{shown}:1: {e}"))?
            .iter()
            .map(String::from)
            .collect();
        let mut rows = Vec::new();
        for rec in rd.records() {
            // The line a record starts on (a quoted field may span lines).
            let rec = rec.map_err(|e| match e.position() {
                Some(p) => format!("{shown}:{}: {e}", p.line()),
                None => format!("{shown}: {e}"),
            })?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            let m: Map<String, Value> = header
                .iter()
                .zip(rec.iter())
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(h, v)| (h.clone(), Value::String(v.trim().to_string())))
                .collect();
            rows.push((line, m));
        }
        rows
    };
    let pick = |m: &mut Map<String, Value>, keys: &[&str]| -> Option<String> {
        for k in keys {
            if let Some(v) = m.remove(*k) {
                return Some(match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                });
            }
        }
        None
    };
    let mut out = Vec::with_capacity(rows.len());
    for (line, mut m) in rows {
        let where_ =
            |what: &str| format!("{shown}:{line}: no {what} column (case_id, activity, timestamp)");
        let case_id = pick(&mut m, &CASE).ok_or_else(|| where_("case"))?;
        let activity = pick(&mut m, &ACTIVITY).ok_or_else(|| where_("activity"))?;
        let timestamp = pick(&mut m, &TIMESTAMP).ok_or_else(|| where_("timestamp"))?;
        let (at_us, _) = time::parse_instant(&timestamp, None)
            .map_err(|e| format!("{shown}:{line}: timestamp `{timestamp}`: {e}"))?;
        let id = match m.remove("id").or_else(|| m.remove("event_id")) {
            Some(Value::String(s)) => s,
            _ => format!("{name}:{line}"),
        };
        out.push(NewEvent {
            id,
            case_id,
            activity,
            timestamp,
            at_us,
            attrs: Value::Object(m).to_string(),
        });
    }
    out.sort_by_key(|e| e.at_us);
    Ok(out)
}

/// Moves every event (and every instant-valued attribute) by `by` µs; instants are
/// written at +08:00.
pub fn shift(events: &mut [NewEvent], by: Micros) {
    for e in events {
        e.at_us += by;
        e.timestamp = time::format_instant(e.at_us, 480);
        if let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(&e.attrs) {
            for v in m.values_mut() {
                if let Value::String(s) = v
                    && looks_like_instant(s)
                    && let Ok((t, _)) = time::parse_instant(s, None)
                {
                    *s = time::format_instant(t + by, 480);
                }
            }
            e.attrs = Value::Object(m).to_string();
        }
    }
}

/// Releases `events` (sorted) as their time comes: `origin` is the real instant the
/// log's `start` corresponds to, `speed` how many log seconds pass per real second.
/// `send` stores or posts one batch; it returns false to stop. Returns the number of
/// events sent.
pub async fn play<F, Fut>(
    events: &[NewEvent],
    start: Micros,
    origin: Micros,
    speed: f64,
    batch: usize,
    mut send: F,
) -> usize
where
    F: FnMut(Vec<NewEvent>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let speed = if speed > 0.0 { speed } else { 1.0 };
    let mut i = 0;
    while i < events.len() {
        let now = now_us();
        // The log's "now".
        let log_now = start + ((now - origin) as f64 * speed) as i64;
        let due = events[i..].partition_point(|e| e.at_us <= log_now);
        if due == 0 {
            let next = events[i].at_us;
            let wait_us = ((next - log_now) as f64 / speed) as u64;
            tokio::time::sleep(Duration::from_micros(wait_us.clamp(1_000, 1_000_000))).await;
            continue;
        }
        let take = due.min(batch.max(1));
        if !send(events[i..i + take].to_vec()).await {
            return i;
        }
        i += take;
    }
    i
}

pub fn now_us() -> Micros {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_lines_read_alike_and_shift_together() {
        let csv = "case_id,activity,timestamp,appointment_start,worker_id\n\
                   O1,受理,2024-05-01T10:05:00+08:00,2024-05-02T09:00:00+08:00,W1\n\
                   O1,下单,2024-05-01T10:00:00+08:00,,\n";
        let mut a = parse_log(csv, "day", "day.csv").unwrap();
        assert_eq!(a[0].activity, "下单", "sorted by time");
        assert_eq!(a[1].id, "day:2");
        let jsonl =
            r#"{"case_id":"O1","activity":"下单","timestamp":"2024-05-01T02:00:00Z","id":"x"}"#;
        let b = parse_log(jsonl, "day", "day.jsonl").unwrap();
        assert_eq!((b[0].id.as_str(), b[0].at_us), ("x", a[0].at_us));
        shift(&mut a, 86_400_000_000);
        assert_eq!(a[0].timestamp, "2024-05-02T10:00:00+08:00");
        let attrs: Value = serde_json::from_str(&a[1].attrs).unwrap();
        assert_eq!(attrs["appointment_start"], "2024-05-03T09:00:00+08:00");
        assert_eq!(attrs["worker_id"], "W1");
        let bad = parse_log("case_id,activity\nO1,下单\n", "d", "d.csv").unwrap_err();
        assert_eq!(
            bad,
            "d.csv:2: no timestamp column (case_id, activity, timestamp)"
        );
    }
}
