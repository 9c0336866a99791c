//! Synthetic standards for benchmarks and scale tests: valid documents of any size whose
//! text exercises the classifier (traps included), cross-references and citations.

/// Sentences rotated through generated clauses.
const SENTENCES: &[&str] = &[
    "平台应在订单提交后20分钟内完成受理。",
    "派单前应核验家政服务员的安心码，红码人员不应派单。",
    "应急预案宜每年至少演练1次。",
    "网点可提供助餐和维修服务。",
    "系统能够自动识别超时未响应的订单。",
    "雨雪天气可能导致上门时间延误。",
    "平台应用电子合同记录服务约定，记录应可追溯。",
    "投诉应在24h内响应，并在48h内办结。",
    "服务记录的保存期限应不少于3年。",
    "数据交换应符合GB/T 22239的规定。",
];

/// One generated standard with `chapters` technical chapters of `clauses` clauses each
/// (plus 范围, 规范性引用文件, 术语和定义). Every clause holds three sentences.
pub fn standard(index: usize, chapters: usize, clauses: usize) -> String {
    let mut s = String::with_capacity(chapters * clauses * 200 + 1024);
    s.push_str(&format!(
        "---\ncode: Q/BZ {index:04}—2025\ntitle: 生成的企业标准{index}\nkind: enterprise\nstatus: current\nsource: reconstructed\nnormative_references:\n  - GB/T 22239\n---\n\n"
    ));
    s.push_str("## 前言\n\n本文件按照GB/T 1.1—2020的规定起草。\n\n## 1 范围\n\n本文件规定了生成的服务要求。\n\n## 2 规范性引用文件\n\nGB/T 22239 信息安全技术 网络安全等级保护基本要求\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n");
    for ch in 0..chapters {
        let n = ch + 4;
        s.push_str(&format!("## {n} 生成章{n}\n\n"));
        for cl in 1..=clauses {
            s.push_str(&format!("### {n}.{cl} 条款{cl}\n\n"));
            for k in 0..3 {
                s.push_str(SENTENCES[(index + ch * 7 + cl * 3 + k) % SENTENCES.len()]);
            }
            if cl > 1 {
                s.push_str(&format!("见{n}.{}。", cl - 1));
            }
            s.push_str("\n\n");
        }
    }
    s
}

/// A standard with about `n` clauses in total (chapters of 50 clauses).
pub fn with_clauses(index: usize, n: usize) -> String {
    let chapters = n.div_ceil(50).max(1);
    standard(index, chapters, 50.min(n.max(2)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_standard_is_clean() {
        let text = super::standard(1, 3, 4);
        let coll = crate::standard::Collection::from_sources(&[("gen.md".into(), text)]);
        let s = &coll.standards[0];
        assert_eq!(s.clause_count(), 3 + 3 + 3 * 4);
        // Only the cross-document warning (GB/T 22239 is not in an in-memory library).
        assert!(
            coll.diagnostics
                .iter()
                .all(|d| d.code == "unknown-reference"),
            "{:#?}",
            coll.diagnostics
        );
    }
}
