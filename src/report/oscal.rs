//! NIST OSCAL 1.1 assessment results (`assessment-results`, JSON), so an audit can
//! flow into GRC tools.
//!
//! Mapping: the audit is one `result`; each clause of the standards in scope is a
//! control (`control-id` = the clause slug, `t-ztac-002-2023_5.1`); each clause
//! with a verdict is a `finding` whose target is that clause (`statement-id`)
//! with state `satisfied` (符合, 观察项) or `not-satisfied` (不符合); each
//! automated check and each recorded finding is an `observation` whose
//! `relevant-evidence` carries the failing records and the photos' hashes. The
//! audit's own verdicts, severities and the conformance rate ride along as
//! `props` in our namespace. 不适用 and 未评价 clauses have no OSCAL state: they are
//! listed in the result's remarks instead.
//!
//! UUIDs are derived from the report number and the object's identity (SHA-256,
//! laid out as a version-5 UUID), so exporting the same report twice gives the
//! same document, and a GRC tool re-importing it updates rather than duplicates.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::audit::AuditReport;

/// The OSCAL version the output declares and is validated against.
pub const OSCAL_VERSION: &str = "1.1.3";
/// Namespace of our `props`.
pub const NS: &str = "https://biaozhun.dev/ns/oscal";

/// A name-based UUID (version-5 layout over SHA-256).
pub fn uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    let mut b: [u8; 16] = [0; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `2026-05-01 10:00:00 +08:00` → `2026-05-01T10:00:00+08:00`; a bare date gets
/// `time` and +08:00.
fn instant(s: &str, time: &str) -> String {
    let s = s.trim();
    if s.len() == 10 {
        return format!("{s}T{time}+08:00");
    }
    match s.split_once(' ') {
        Some((d, rest)) => match rest.split_once(' ') {
            Some((t, off)) => format!("{d}T{t}{off}"),
            None => format!("{d}T{rest}+08:00"),
        },
        None => s.to_string(),
    }
}

/// A prop in our namespace; OSCAL refuses empty values and line breaks in them.
fn prop(name: &str, value: &str) -> Value {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    json!({ "name": name, "ns": NS, "value": nonempty(&value) })
}

/// OSCAL `prop` values must be non-empty and without leading/trailing space.
fn nonempty(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        "—".into()
    } else {
        t.to_string()
    }
}

/// The assessment-results document for a report.
pub fn assessment_results(r: &AuditReport) -> Value {
    let no = r.report_no.as_str();
    let modified = instant(&r.generated_at, "00:00:00");
    let collected = if r.audit.ran_at.is_empty() {
        modified.clone()
    } else {
        instant(&r.audit.ran_at, "00:00:00")
    };

    // Parties: the audit team.
    let parties: Vec<Value> = r
        .auditors
        .iter()
        .map(|p| {
            json!({
                "uuid": uuid(&[no, "party", &p.username]),
                "type": "person",
                "name": nonempty(&p.name),
                "props": [prop("role", &nonempty(&p.role))],
            })
        })
        .collect();
    let party_uuids: Vec<Value> = parties.iter().map(|p| p["uuid"].clone()).collect();

    // Back matter: the data snapshot and every photo, with their hashes.
    let mut resources = Vec::new();
    let snapshot_uuid = uuid(&[no, "snapshot"]);
    let mut snapshot = json!({
        "uuid": snapshot_uuid,
        "title": "平台数据快照",
        "description": "审核读取的平台数据（机构、家政员、服务网点、投诉、培训、订单日志）。",
    });
    if r.audit.snapshot.len() == 64 {
        snapshot["rlinks"] = json!([{
            "href": format!("urn:biaozhun:snapshot:{}", r.audit.snapshot),
            "hashes": [{ "algorithm": "SHA-256", "value": r.audit.snapshot }],
        }]);
    }
    resources.push(snapshot);
    for f in &r.findings {
        for p in &f.photos {
            resources.push(json!({
                "uuid": uuid(&[no, "evidence", &p.sha256]),
                "title": nonempty(&p.name),
                "rlinks": [{
                    "href": format!("/evidence/{}", p.sha256),
                    "hashes": [{ "algorithm": "SHA-256", "value": p.sha256 }],
                }],
            }));
        }
    }
    // A photo attached to two findings is one resource.
    resources.dedup_by(|a, b| a["uuid"] == b["uuid"]);

    // Observations: automated checks, then recorded findings.
    let mut observations = Vec::new();
    let mut obs_by_clause: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for c in &r.method.checks {
        let id = uuid(&[no, "check", &c.id]);
        let mut evidence = vec![json!({
            "href": format!("#{snapshot_uuid}"),
            "description": nonempty(&format!("{}：{}", c.outcome, c.detail)),
        })];
        // The failing records behind a check are in the findings on its clauses.
        for f in r.findings.iter().filter(|f| {
            c.clauses
                .split('、')
                .any(|n| f.clause.split_once('#').map(|x| x.1) == Some(n))
        }) {
            for s in f.samples.iter().take(10) {
                evidence.push(json!({ "description": nonempty(s) }));
            }
        }
        evidence.dedup();
        observations.push(json!({
            "uuid": id,
            "title": nonempty(&format!("{} {}", c.id, c.title)),
            "description": nonempty(&format!("自动检查 {}（{}）：{}，{}", c.id, c.kind, c.outcome, c.detail)),
            "props": [prop("check-id", &nonempty(&c.id)), prop("outcome", &nonempty(&c.outcome))],
            "methods": ["TEST"],
            "types": ["control-objective"],
            "collected": collected,
            "relevant-evidence": evidence,
        }));
        for n in c.clauses.split('、').filter(|n| !n.is_empty()) {
            obs_by_clause
                .entry(n.to_string())
                .or_default()
                .push(id.clone());
        }
    }
    for f in r.findings.iter().filter(|f| !f.derived) {
        let id = uuid(&[no, "finding-observation", &f.no]);
        let mut evidence: Vec<Value> = f
            .samples
            .iter()
            .map(|s| json!({ "description": nonempty(s) }))
            .collect();
        for p in &f.photos {
            evidence.push(json!({
                "href": format!("#{}", uuid(&[no, "evidence", &p.sha256])),
                "description": nonempty(&format!("照片 {}（SHA-256 {}）", p.name, p.sha256)),
            }));
        }
        for a in &f.attachments {
            evidence.push(json!({ "description": nonempty(a) }));
        }
        let mut o = json!({
            "uuid": id,
            "title": nonempty(&format!("{} {}", f.no, f.title)),
            "description": nonempty(&f.observed),
            "methods": ["EXAMINE"],
            "types": ["finding"],
            "collected": collected,
        });
        if !evidence.is_empty() {
            o["relevant-evidence"] = Value::Array(evidence);
        }
        observations.push(o);
        if let Some((_, n)) = f.clause.split_once('#') {
            obs_by_clause.entry(n.to_string()).or_default().push(id);
        }
    }

    // Findings: one per clause with a verdict OSCAL can state.
    let mut findings = Vec::new();
    let mut unstated = Vec::new();
    for c in &r.clauses {
        let state = match c.verdict_code.as_str() {
            "conform" | "observation" => "satisfied",
            "nonconform" => "not-satisfied",
            _ => {
                unstated.push(format!("{}（{}）", c.id, c.verdict));
                continue;
            }
        };
        let mut props = vec![prop("verdict", &c.verdict_code), prop("source", &c.source)];
        if !c.severity.is_empty() {
            props.push(prop("severity", &c.severity));
        }
        let mut desc = format!("{}：{}", c.id, c.verdict);
        if !c.evidence.is_empty() {
            desc.push_str(&format!("。证据：{}", c.evidence));
        }
        if !c.justification.is_empty() {
            desc.push_str(&format!("。审核员说明：{}", c.justification));
        }
        let mut finding = json!({
            "uuid": uuid(&[no, "clause", &c.slug]),
            "title": nonempty(&format!("{} {}", c.id, c.text)),
            "description": desc,
            "props": props,
            "target": {
                "type": "statement-id",
                "target-id": c.slug,
                "status": { "state": state },
            },
        });
        let mut related: Vec<Value> = obs_by_clause
            .get(&c.number)
            .into_iter()
            .flatten()
            .map(|u| json!({ "observation-uuid": u }))
            .collect();
        related.dedup();
        if !related.is_empty() {
            finding["related-observations"] = Value::Array(related);
        }
        // Recorded findings on the clause: their numbers and corrective actions.
        let recorded: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.clause_slug == c.slug)
            .map(|f| {
                format!(
                    "{} {}（{}，责任人 {}，期限 {}，{}）",
                    f.no,
                    f.title,
                    f.severity,
                    if f.owner.is_empty() {
                        "待指定"
                    } else {
                        &f.owner
                    },
                    if f.due.is_empty() { "待定" } else { &f.due },
                    f.status
                )
            })
            .collect();
        if !recorded.is_empty() {
            finding["remarks"] = json!(recorded.join("\n"));
        }
        findings.push(finding);
    }

    let mut result = json!({
        "uuid": uuid(&[no, "result"]),
        "title": nonempty(&format!("{} {}", no, r.audit.name)),
        "description": nonempty(&format!(
            "审核范围：{}；审核期间 {} 至 {}；总体符合率 {}（符合+观察项 ÷ 已评价），不符合 {} 项（严重 {}，一般 {}），观察项 {} 项。",
            r.audit.standards.iter().map(|s| s.code.as_str()).collect::<Vec<_>>().join("、"),
            r.audit.period_from,
            r.audit.period_to,
            r.summary.rate_text,
            r.summary.major + r.summary.minor,
            r.summary.major,
            r.summary.minor,
            r.summary.observations,
        )),
        "start": instant(&r.audit.period_from, "00:00:00"),
        "end": instant(&r.audit.period_to, "23:59:59"),
        "props": [
            prop("conformance-rate", &r.summary.rate_text),
            prop("assessed-clauses", &r.summary.assessed.to_string()),
            prop("report-number", no),
        ],
        "reviewed-controls": {
            "control-selections": [{
                "include-controls": r.clauses.iter().map(|c| json!({ "control-id": c.slug })).collect::<Vec<_>>(),
            }],
        },
    });
    if r.clauses.is_empty() {
        result["reviewed-controls"] = json!({ "control-selections": [{ "include-all": {} }] });
    }
    if !observations.is_empty() {
        result["observations"] = Value::Array(observations);
    }
    if !findings.is_empty() {
        result["findings"] = Value::Array(findings);
    }
    let mut remarks = Vec::new();
    if !unstated.is_empty() {
        remarks.push(format!(
            "无 OSCAL 状态的条款（不适用、未评价或数据不完整）：{}",
            unstated.join("、")
        ));
    }
    if !r.summary.data_warning.is_empty() {
        remarks.push(format!("数据不完整：{}", r.summary.data_warning));
    }
    if !remarks.is_empty() {
        result["remarks"] = json!(remarks.join("。"));
    }

    let mut metadata = json!({
        "title": nonempty(&format!("符合性审核报告 {} {}", no, r.audit.name)),
        "last-modified": modified,
        "version": format!("{no} rev {}", r.audit.revision),
        "oscal-version": OSCAL_VERSION,
        "roles": [{ "id": "assessor", "title": "审核员" }],
    });
    if !parties.is_empty() {
        metadata["parties"] = Value::Array(parties);
        metadata["responsible-parties"] =
            json!([{ "role-id": "assessor", "party-uuids": party_uuids }]);
    }
    json!({
        "assessment-results": {
            "uuid": uuid(&[no, "assessment-results"]),
            "metadata": metadata,
            "import-ap": { "href": format!("urn:biaozhun:audit:{}:assessment-plan", r.audit.id) },
            "results": [result],
            "back-matter": { "resources": resources },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid(&["BZSH-2026-0001", "result"]);
        assert_eq!(a, uuid(&["BZSH-2026-0001", "result"]));
        assert_ne!(a, uuid(&["BZSH-2026-0002", "result"]));
        let re = regex::Regex::new(
            "^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .unwrap();
        assert!(re.is_match(&a), "{a}");
    }

    #[test]
    fn instants_get_a_timezone() {
        assert_eq!(
            instant("2026-05-01 10:00:00 +08:00", "x"),
            "2026-05-01T10:00:00+08:00"
        );
        assert_eq!(
            instant("2026-05-01", "23:59:59"),
            "2026-05-01T23:59:59+08:00"
        );
    }
}
