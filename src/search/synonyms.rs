//! A small domain thesaurus: the words auditors type versus the words standards use.
//!
//! Expansion happens at query time only (the index stays literal), with a lower boost
//! than the user's own words, so an exact match still ranks first. Each group lists
//! interchangeable words; a question word maps to the wording standards use to answer
//! it (多久 → 期限, 不少于 …).

/// Interchangeable words of housekeeping-service and platform standards.
const GROUPS: &[&[&str]] = &[
    &["体检", "健康体检", "健康检查", "健康证", "健康证明"],
    &["保存", "留存", "保管", "存储", "归档", "保留"],
    &["挂靠", "同时登记", "多家"],
    &["密码", "口令"],
    &["持证", "证书", "职业技能证书", "持证上岗", "持证率"],
    &["场地", "面积", "用房", "平方米"],
    &["电脑", "计算机", "终端", "设备"],
    &["工资", "报酬", "薪酬", "劳务费"],
    &["拖欠", "克扣"],
    &["结算", "支付", "付款", "结付"],
    &["退款", "退费", "退还"],
    &["收费", "费用", "价格", "收费标准"],
    &["私下", "线下", "额外"],
    &["考核", "考评", "评价", "评估", "评定"],
    &["复核", "复查", "复议"],
    &["申诉", "异议"],
    &["投诉", "举报"],
    &["迟到", "准时", "延误", "晚到"],
    &["刷新", "更新"],
    &["发票", "票据"],
    &["学时", "课时"],
    &["继续教育", "继续培训", "复训"],
    &["亮码", "出示"],
    &["扫码", "扫描"],
    &["拍照", "照片", "影像"],
    &["日志", "审计日志", "操作日志"],
    &["等保", "等级保护", "网络安全等级保护"],
    &["脱敏", "掩码", "屏蔽", "去标识化"],
    &["同意", "授权"],
    &["注销", "删除"],
    &["营业时间", "营业", "开放时间"],
    &["配备", "专职", "人员"],
    &["台账", "登记簿"],
    &["保修", "质保"],
    &["助餐", "送餐", "配餐"],
    &["满意度", "满意率"],
    &["整改", "纠正", "纠正措施", "改进"],
    &["抽查", "抽检"],
    &["报表", "统计"],
    &["延迟", "时延", "延时"],
    &["时钟", "时间同步"],
    &["适老化", "无障碍"],
    &["意外险", "意外伤害保险", "保险"],
    &["保额", "保险金额"],
    &["公告", "公示"],
    &["派单", "指派", "派遣", "派往"],
    &["接单", "受理", "抢单"],
    &["默认好评", "自动好评"],
    &["好评率", "好评"],
    &["星", "星级"],
    &["可用性", "可用率"],
    &["备份", "容灾"],
    &["人脸识别", "人脸", "活体"],
    &["校验位", "校验码"],
    &["微服务", "服务化"],
    &["频次", "频率", "每年", "周期"],
    // Everyday words for the standards' terms.
    &["阿姨", "保姆", "家政员", "家政服务员", "家政服务人员"],
    &["客户", "消费者", "雇主"],
    &["打码", "脱敏", "隐藏"],
    &["差评", "评价", "评分"],
    &["宕机", "故障", "中断", "恢复"],
    &["锁号", "锁定", "冻结"],
    &["受伤", "伤害", "人身伤害"],
    &["重做", "返工"],
    &["身份证号", "身份证件号码", "身份证"],
    &["摔坏", "损坏", "财产损失"],
    &["搬家", "搬运"],
    &["联系", "响应", "首次响应"],
    &["上岗前", "岗前"],
    &["小时", "学时", "h"],
];

/// Question words → the wording that answers them.
const QUESTIONS: &[(&str, &[&str])] = &[
    ("多久", &["期限", "时限", "不少于", "以内"]),
    ("多长时间", &["期限", "时限", "不少于", "以内"]),
    ("几天", &["日", "工作日"]),
    ("多少天", &["日", "工作日"]),
    ("多少秒", &["s", "秒"]),
    ("多大", &["面积", "不小于"]),
    ("几台", &["台", "配备"]),
    ("几个人", &["名", "配备", "人员"]),
    ("怎么算", &["计算", "方法"]),
    ("计算方法", &["计算"]),
    ("能不能", &["不应"]),
    ("什么是", &["定义"]),
    ("几颗星", &["星", "分"]),
];

/// Words that carry no meaning in a query (dropped from expansion, kept in scoring).
pub const QUESTION_FILLERS: &[&str] = &["哪些", "需要", "怎么", "什么", "是否", "必须"];

/// Expansions of one query word, excluding the word itself.
pub fn expand(word: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for group in GROUPS {
        if group.contains(&word) {
            out.extend(group.iter().filter(|w| **w != word));
        }
    }
    for (q, answers) in QUESTIONS {
        if word == *q || (word.chars().count() > q.chars().count() && word.contains(q)) {
            out.extend(answers.iter());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn expands_groups_and_questions() {
        assert!(super::expand("体检").contains(&"健康检查"));
        assert!(super::expand("多久").contains(&"不少于"));
        assert!(super::expand("投诉多长时间").contains(&"时限"));
        assert!(super::expand("安心码颜色").is_empty());
    }
}
