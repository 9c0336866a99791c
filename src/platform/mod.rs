//! The live platform's entities, as an audit sees them: agencies (机构), workers
//! (with their 安心码 colour history, health-check and insurance validity),
//! community outlets (网点), complaints and training records.
//!
//! Data flows one way: files (or, later, the platform's own database through a
//! mapping) → [`import`] (validated row by row, identifiers checked by their check
//! characters, personal identifiers masked and hashed) → [`Platform`] → record and
//! metric rules. Nothing downstream ever sees a full ID or phone number.
//!
//! The file format is documented in `docs/platform-data.md`; each entity's record
//! is described by `schemas/platform.schema.json`.

pub mod generate;
pub mod ids;
pub mod import;
pub mod source;

use serde::Serialize;

use crate::audit::time::Micros;

/// 安心码 colour (DB33/T 2396): green = identity verified, health check and
/// insurance valid; yellow = one of them missing or expired; red = identity
/// abnormal or high-risk information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeColor {
    Green,
    Yellow,
    Red,
}

impl CodeColor {
    pub fn parse(s: &str) -> Option<CodeColor> {
        Some(match s.trim() {
            "green" | "绿" | "绿码" | "绿色" => CodeColor::Green,
            "yellow" | "黄" | "黄码" | "黄色" => CodeColor::Yellow,
            "red" | "红" | "红码" | "红色" => CodeColor::Red,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            CodeColor::Green => "绿码",
            CodeColor::Yellow => "黄码",
            CodeColor::Red => "红码",
        }
    }
}

/// A housekeeping agency (家政服务机构).
#[derive(Debug, Clone, Serialize)]
pub struct Agency {
    pub id: String,
    pub name: String,
    /// 统一社会信用代码 (organisations' codes are public).
    pub credit_code: String,
    /// Whether it passes GB 32100 / GB 11714 (an invalid one is a finding).
    pub credit_code_valid: bool,
    pub town: String,
    pub address: String,
    /// GB/T 31772 grade (`1A`…`5A`), if rated.
    pub grade: Option<String>,
    /// Public complaint phone (a business number, shown in full).
    pub complaint_phone: String,
}

/// A housekeeping worker (家政服务人员). No full ID or phone number is kept.
#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    pub id: String,
    pub name: String,
    pub agency_id: String,
    /// Whether the ID number passes GB 11643 (an invalid one is a finding).
    pub id_number_valid: bool,
    /// `3301**********002X`.
    pub id_masked: String,
    /// Keyed hash of the ID number (matches the same person across files).
    pub id_hash: String,
    pub phone_masked: String,
    pub phone_hash: String,
    pub birth_year: i32,
    pub registered_at: Micros,
    /// Last day (inclusive, end of day) the health check is valid.
    pub health_check_until: Option<Micros>,
    pub insurance_until: Option<Micros>,
}

/// One change of a worker's 安心码 colour.
#[derive(Debug, Clone, Serialize)]
pub struct CodeChange {
    pub worker_id: String,
    pub at: Micros,
    pub color: CodeColor,
    pub reason: String,
}

/// A community service outlet (社区家政服务网点).
#[derive(Debug, Clone, Serialize)]
pub struct Outlet {
    pub id: String,
    pub name: String,
    /// 镇街.
    pub town: String,
    pub address: String,
    /// 招聘、培训、就业、服务、权益保护 (and 供应链).
    pub functions: Vec<String>,
    /// 保洁、护理、助餐、维修、搬运 …
    pub services: Vec<String>,
    pub staff: u32,
    pub opening_hours: String,
    /// What is publicly displayed: 营业执照, 服务项目, 收费标准, 投诉电话, 营业时间 …
    pub displays: Vec<String>,
    /// Ledgers kept (台账): 培训台账, 投诉台账, 服务台账 …
    pub ledgers: Vec<String>,
}

/// A complaint and how it was handled.
#[derive(Debug, Clone, Serialize)]
pub struct Complaint {
    pub id: String,
    pub order_id: String,
    pub agency_id: String,
    pub worker_id: String,
    pub outlet_id: String,
    pub category: String,
    pub received_at: Micros,
    pub first_response_at: Option<Micros>,
    pub resolved_at: Option<Micros>,
}

/// One worker's attendance at one training.
#[derive(Debug, Clone, Serialize)]
pub struct Training {
    pub worker_id: String,
    pub title: String,
    pub date: Micros,
    pub hours: f64,
    pub passed: bool,
    pub outlet_id: String,
}

/// A satisfaction survey's results, as audits read them (entity `surveys`). They
/// come from Biaozhun's own survey store, not from the platform export.
#[derive(Debug, Clone, Serialize)]
pub struct SurveyResult {
    pub id: String,
    pub title: String,
    pub version: i64,
    /// The audit a return-visit survey was drawn for, or empty.
    pub audit_id: String,
    pub first_at: Option<Micros>,
    pub last_at: Option<Micros>,
    pub responses: usize,
    pub valid: usize,
    /// Mean of the scored answers, 1–5.
    pub score: Option<f64>,
    /// score ÷ 5 × 100.
    pub satisfaction: Option<f64>,
    /// Top-2-box of the overall question, %.
    pub csat: Option<f64>,
}

/// Everything imported, with the fingerprint of the files it came from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Platform {
    pub agencies: Vec<Agency>,
    pub workers: Vec<Worker>,
    pub code_changes: Vec<CodeChange>,
    pub outlets: Vec<Outlet>,
    pub complaints: Vec<Complaint>,
    pub trainings: Vec<Training>,
    /// Survey results, when the caller supplied them (`None`: the audit has no
    /// survey data, and survey checks are 未评价 rather than failed).
    pub surveys: Option<Vec<SurveyResult>>,
    /// SHA-256 over the files' names and bytes, in name order: the snapshot an
    /// audit records so its findings can be tied to exactly this data.
    pub snapshot: String,
    /// (file name, SHA-256) of each file read.
    pub files: Vec<(String, String)>,
    /// Findings about the data that did not stop the import (identifiers that
    /// fail their checks).
    pub warnings: Vec<import::RowError>,
}

impl Platform {
    /// A worker's 安心码 colour at `t` (the last change at or before it).
    pub fn color_at(&self, worker_id: &str, t: Micros) -> Option<CodeColor> {
        self.code_changes
            .iter()
            .filter(|c| c.worker_id == worker_id && c.at <= t)
            .max_by_key(|c| c.at)
            .map(|c| c.color)
    }
}
