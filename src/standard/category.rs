//! The enterprise standard system of GB/T 24421 (服务业组织标准化工作指南): four top
//! nodes and their usual sub-nodes. A standard's `category` is a path `top/sub`.

/// (top node, known sub-nodes)
pub const NODES: &[(&str, &[&str])] = &[
    (
        "通用基础标准",
        &[
            "标准化导则",
            "术语与缩略语标准",
            "符号与标志标准",
            "数值与数据标准",
            "量和单位标准",
            "测量标准",
        ],
    ),
    (
        "服务保障标准",
        &[
            "环境标准",
            "能源标准",
            "安全与应急标准",
            "职业健康标准",
            "信息标准",
            "财务管理标准",
            "设施设备及用品标准",
            "人力资源标准",
            "合同管理标准",
        ],
    ),
    (
        "服务提供标准",
        &[
            "服务规范",
            "服务提供规范",
            "服务质量控制规范",
            "运行管理规范",
            "服务评价与改进标准",
        ],
    ),
    (
        "岗位工作标准",
        &["决策层岗位标准", "管理层岗位标准", "操作层岗位标准"],
    ),
];

/// Why a category path is not in the system, or `None` when it is.
pub fn check(path: &str) -> Option<String> {
    let mut parts = path.split('/');
    let top = parts.next().unwrap_or_default();
    let Some((_, subs)) = NODES.iter().find(|(t, _)| *t == top) else {
        return Some(format!(
            "`{top}` is not a top node of the GB/T 24421 standard system (通用基础标准, 服务保障标准, 服务提供标准, 岗位工作标准)"
        ));
    };
    match parts.next() {
        Some(sub) if !subs.contains(&sub) => Some(format!(
            "`{sub}` is not a known sub-node of {top}; known: {}",
            subs.join("、")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_and_unknown_nodes() {
        assert_eq!(super::check("服务提供标准/服务提供规范"), None);
        assert_eq!(super::check("岗位工作标准"), None);
        assert!(super::check("服务提供标准/随便").is_some());
        assert!(super::check("其他").is_some());
    }
}
