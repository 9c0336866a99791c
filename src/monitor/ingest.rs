//! Event batches: parsing and validation, all before anything is stored.
//!
//! A batch is `{"events": [...]}` or a bare array. Each event has `id`, `case_id`,
//! `activity` and `timestamp` (ISO 8601 with an offset, as in the order log); every
//! other key is an attribute (`worker_id`, `code_color`, …), the columns of the order
//! log. A batch with any invalid event is refused whole, with every problem named by
//! its place (`events[3].timestamp`), so the client can fix and resend it; half a
//! batch is never stored.

use serde_json::Value;

/// Most events one request may carry: bigger batches are refused (413) rather than
/// held in memory.
pub const MAX_BATCH: usize = 10_000;

/// A validated event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub case_id: String,
    pub activity: String,
    /// As sent (the offset is kept).
    pub timestamp: String,
    /// µs since the epoch.
    pub at_us: i64,
    /// The other keys, as a JSON object with string values.
    pub attrs: String,
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Not JSON, or not a list of events.
    Shape(String),
    /// More than [`MAX_BATCH`] events.
    TooLarge(usize),
    /// Per-event problems: `events[3].timestamp: …`.
    Invalid(Vec<String>),
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Shape(m) => write!(f, "{m}"),
            BatchError::TooLarge(n) => {
                write!(f, "一批最多 {MAX_BATCH} 个事件，收到 {n} 个：请分批发送")
            }
            BatchError::Invalid(errs) => write!(f, "{}", errs.join("; ")),
        }
    }
}

const REQUIRED: [&str; 4] = ["id", "case_id", "activity", "timestamp"];
/// Longest id, case id or activity accepted (they are keys, not prose).
const MAX_KEY: usize = 200;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Parses and validates a batch body.
pub fn parse_batch(body: &[u8]) -> Result<Vec<NewEvent>, BatchError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        BatchError::Shape(format!(
            "请求体不是合法的 JSON（第 {} 行第 {} 列）：{e}",
            e.line(),
            e.column()
        ))
    })?;
    let list = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("events") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(BatchError::Shape(
                    "请求体应为事件数组，或 {\"events\": [...]}".into(),
                ));
            }
        },
        _ => {
            return Err(BatchError::Shape(
                "请求体应为事件数组，或 {\"events\": [...]}".into(),
            ));
        }
    };
    if list.len() > MAX_BATCH {
        return Err(BatchError::TooLarge(list.len()));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, e) in list.into_iter().enumerate() {
        let Value::Object(mut fields) = e else {
            errors.push(format!("events[{i}]: 应为对象"));
            continue;
        };
        let mut required = Vec::new();
        let mut ok = true;
        for key in REQUIRED {
            match fields.remove(key).as_ref().and_then(text) {
                Some(s) if !s.trim().is_empty() && s.chars().count() <= MAX_KEY => {
                    required.push(s.trim().to_string())
                }
                Some(s) if !s.trim().is_empty() => {
                    errors.push(format!("events[{i}].{key}: 超过 {MAX_KEY} 个字符"));
                    ok = false;
                }
                _ => {
                    errors.push(format!("events[{i}].{key}: 缺少或为空"));
                    ok = false;
                }
            }
        }
        let mut attrs = serde_json::Map::new();
        for (k, v) in fields {
            match text(&v) {
                Some(s) => {
                    attrs.insert(k, Value::String(s));
                }
                None => {
                    errors.push(format!("events[{i}].{k}: 属性值应为文本、数字或布尔值"));
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let [id, case_id, activity, timestamp] = <[String; 4]>::try_from(required)
            .unwrap_or_else(|_| [String::new(), String::new(), String::new(), String::new()]);
        let at_us = match crate::audit::time::parse_instant(&timestamp, None) {
            Ok((t, _)) => t,
            Err(e) => {
                errors.push(format!(
                    "events[{i}].timestamp: “{timestamp}”不是带时区的时间（如 2024-05-01T10:00:00+08:00）：{e}"
                ));
                continue;
            }
        };
        if let Some(first) = seen.insert(id.clone(), i) {
            errors.push(format!("events[{i}].id: 与 events[{first}] 重复（{id}）"));
            continue;
        }
        out.push(NewEvent {
            id,
            case_id,
            activity,
            timestamp,
            at_us,
            attrs: Value::Object(attrs).to_string(),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(BatchError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test]
    fn a_valid_batch_keeps_attributes_as_text() {
        let b = r#"{"events":[{"id":"e1","case_id":"O1","activity":"下单","timestamp":"2024-05-01T10:00:00+08:00","stars":5,"first_order":true,"worker_id":null}]}"#;
        let v = parse_batch(b.as_bytes()).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].at_us, 1_714_528_800_000_000);
        let attrs: Value = serde_json::from_str(&v[0].attrs).unwrap();
        assert_eq!(attrs["stars"], "5");
        assert_eq!(attrs["first_order"], "true");
        assert_eq!(attrs["worker_id"], "");
    }

    #[test_case("not json", "不是合法的 JSON" ; "not json")]
    #[test_case("{\"x\": 1}", "事件数组" ; "wrong shape")]
    #[test_case(r#"[{"id":"e1","case_id":"O1","activity":"下单"}]"#, "events[0].timestamp: 缺少" ; "missing field")]
    #[test_case(r#"[{"id":"e1","case_id":"O1","activity":"下单","timestamp":"2024-05-01 10:00"}]"#, "events[0].timestamp" ; "bad time")]
    #[test_case(r#"[{"id":"e1","case_id":"O1","activity":"下单","timestamp":"2024-05-01T10:00:00+08:00","x":[1]}]"#, "events[0].x" ; "nested attribute")]
    #[test_case(r#"[{"id":"e1","case_id":"O1","activity":"a","timestamp":"2024-05-01T10:00:00Z"},{"id":"e1","case_id":"O1","activity":"b","timestamp":"2024-05-01T10:00:00Z"}]"#, "events[1].id: 与 events[0] 重复" ; "duplicate in batch")]
    fn bad_batches_say_where(body: &str, says: &str) {
        let e = parse_batch(body.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
    }

    #[test]
    fn every_bad_event_is_named_and_nothing_is_kept() {
        let b = r#"[{"id":"e1","case_id":"O1","activity":"下单","timestamp":"2024-05-01T10:00:00+08:00"},{"case_id":"O1"},{"id":"e3","case_id":"","activity":"a","timestamp":"x"}]"#;
        match parse_batch(b.as_bytes()) {
            Err(BatchError::Invalid(errs)) => {
                assert!(errs.iter().any(|e| e.starts_with("events[1].id")));
                assert!(errs.iter().any(|e| e.starts_with("events[2].case_id")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_batches_are_refused_before_validation() {
        let one = r#"{"id":"e","case_id":"c","activity":"a","timestamp":"2024-05-01T10:00:00Z"}"#;
        let body = format!("[{}]", vec![one; MAX_BATCH + 1].join(","));
        assert_eq!(
            parse_batch(body.as_bytes()),
            Err(BatchError::TooLarge(MAX_BATCH + 1))
        );
    }
}
