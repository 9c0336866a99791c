//! Project indicators: baseline, target and actual, entered or computed live from
//! Biaozhun's own data, and whether each target is met.

use serde::Serialize;

/// The metrics an indicator can be computed from (`source: live:<id>`).
pub const LIVE: &[(&str, &str, &str)] = &[
    ("standards-total", "标准库中的标准数", "项"),
    ("standards-enterprise", "企业标准数（Q/ 开头）", "项"),
    ("standards-basic", "通用基础标准数（GB/T 24421）", "项"),
    ("standards-support", "服务保障标准数（GB/T 24421）", "项"),
    ("standards-provision", "服务提供标准数（GB/T 24421）", "项"),
    ("audit-conformance", "最近一次符合性审核的符合率", "%"),
    ("survey-csat", "最近一次满意度调查的满意度", "%"),
    ("survey-score", "最近一次满意度调查的平均得分", "分"),
    ("trainings", "平台培训记录人次", "人次"),
];

/// The live figures, as far as Biaozhun has the data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Live {
    pub standards_total: usize,
    pub standards_enterprise: usize,
    /// Standards per GB/T 24421 top node (通用基础标准, 服务保障标准, 服务提供标准).
    pub standards_by_node: std::collections::BTreeMap<String, usize>,
    pub audit_conformance: Option<f64>,
    pub survey_csat: Option<f64>,
    pub survey_valid: Option<usize>,
    pub survey_score: Option<f64>,
    pub trainings: Option<usize>,
}

impl Live {
    fn node(&self, name: &str) -> f64 {
        self.standards_by_node.get(name).copied().unwrap_or(0) as f64
    }

    pub fn value(&self, metric: &str) -> Option<f64> {
        match metric {
            "standards-total" => Some(self.standards_total as f64),
            "standards-enterprise" => Some(self.standards_enterprise as f64),
            "standards-basic" => Some(self.node("通用基础标准")),
            "standards-support" => Some(self.node("服务保障标准")),
            "standards-provision" => Some(self.node("服务提供标准")),
            "audit-conformance" => self.audit_conformance,
            "survey-csat" => self.survey_csat,
            "survey-score" => self.survey_score,
            "trainings" => self.trainings.map(|n| n as f64),
            _ => None,
        }
    }
}

/// Whether the actual value meets the target: `up` — at least the target; `down` —
/// at most. `None` when either is not a number.
pub fn achieved(direction: &str, target: &str, actual: &str) -> Option<bool> {
    let num = |s: &str| {
        s.trim()
            .trim_end_matches(['%', '％'])
            .trim()
            .parse::<f64>()
            .ok()
    };
    let (t, a) = (num(target)?, num(actual)?);
    Some(if direction == "down" { a <= t } else { a >= t })
}

#[cfg(test)]
mod tests {
    use test_case::test_case;

    #[test_case("up", "50", "62", Some(true) ; "up and above")]
    #[test_case("up", "50", "49.5", Some(false) ; "up and below")]
    #[test_case("down", "20", "18", Some(true) ; "down: a response time under its target")]
    #[test_case("down", "-15", "-12", Some(false) ; "down: complaints fell less than the target")]
    #[test_case("up", "95%", "97.4%", Some(true) ; "percent signs")]
    #[test_case("up", "较高", "62", None ; "a target that is not a number")]
    fn targets(direction: &str, target: &str, actual: &str, want: Option<bool>) {
        assert_eq!(super::achieved(direction, target, actual), want);
    }

    #[test]
    fn live_values() {
        let l = super::Live {
            standards_total: 14,
            survey_csat: Some(97.58),
            ..Default::default()
        };
        assert_eq!(l.value("standards-total"), Some(14.0));
        assert_eq!(
            l.value("standards-support"),
            Some(0.0),
            "a node with none is 0, not unknown"
        );
        assert_eq!(l.value("survey-csat"), Some(97.58));
        assert_eq!(l.value("audit-conformance"), None);
        assert_eq!(l.value("nonsense"), None);
        assert_eq!(crate::acceptance::fmt_points(97.58), "97.58");
        assert_eq!(crate::acceptance::fmt_points(14.0), "14");
    }
}
