//! Provision typing by verbal form (GB/T 1.1—2020 附录C).
//!
//! Only requirements can be failed in an audit, so this is the core of conformance. A
//! sentence is segmented with jieba (dictionary only, no HMM, so no invented words) and
//! the *whole words* are looked up in a lexicon of verbal forms. Substring matching is
//! wrong for Chinese: 响应, 应急, 可靠, 功能, 适宜 contain the characters of 应/可/能/宜
//! without being verbal forms. Every classification keeps the word that triggered it,
//! so the result can be explained (`biaozhun show --explain`).

use jieba_rs::Jieba;
use serde::Serialize;
use std::sync::LazyLock;

/// The type of a provision. The order is the strength order: a sentence with several
/// forms takes the strongest as its primary type.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionType {
    Requirement,
    Recommendation,
    Permission,
    Capability,
    Possibility,
    Statement,
}

impl ProvisionType {
    pub const ALL: [ProvisionType; 6] = [
        ProvisionType::Requirement,
        ProvisionType::Recommendation,
        ProvisionType::Permission,
        ProvisionType::Capability,
        ProvisionType::Possibility,
        ProvisionType::Statement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionType::Requirement => "requirement",
            ProvisionType::Recommendation => "recommendation",
            ProvisionType::Permission => "permission",
            ProvisionType::Capability => "capability",
            ProvisionType::Possibility => "possibility",
            ProvisionType::Statement => "statement",
        }
    }

    /// Chinese label as GB/T 1.1 names it.
    pub fn label(self) -> &'static str {
        match self {
            ProvisionType::Requirement => "要求",
            ProvisionType::Recommendation => "推荐",
            ProvisionType::Permission => "允许",
            ProvisionType::Capability => "陈述·能力",
            ProvisionType::Possibility => "陈述·可能性",
            ProvisionType::Statement => "陈述",
        }
    }

    pub fn parse(s: &str) -> Option<ProvisionType> {
        ProvisionType::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.label() == s)
    }
}

/// One verbal form found in a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Form {
    #[serde(rename = "type")]
    pub kind: ProvisionType,
    pub negative: bool,
    /// The word as written (`不应`, `可以`, `必须`).
    pub word: String,
    /// Byte offset of the word in the sentence.
    pub offset: usize,
    /// A form GB/T 1.1 discourages (必须, 不得, 不可, 严禁, 禁止, 须): still a requirement,
    /// but the lint suggests 应 / 不应.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub discouraged: bool,
}

/// The result of classifying one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    #[serde(rename = "type")]
    pub kind: ProvisionType,
    pub negative: bool,
    /// The word that decided the primary type; `None` for statements.
    pub trigger: Option<String>,
    pub forms: Vec<Form>,
}

impl Classification {
    pub fn statement() -> Self {
        Classification {
            kind: ProvisionType::Statement,
            negative: false,
            trigger: None,
            forms: Vec::new(),
        }
    }

    fn from_forms(forms: Vec<Form>) -> Self {
        match forms.iter().min_by_key(|f| (f.kind, f.offset)) {
            Some(f) => Classification {
                kind: f.kind,
                negative: f.negative,
                trigger: Some(f.word.clone()),
                forms: forms.clone(),
            },
            None => Classification::statement(),
        }
    }
}

use ProvisionType::*;

/// Whole words that are verbal forms: (word, type, negative, discouraged).
const LEXICON: &[(&str, ProvisionType, bool, bool)] = &[
    ("应", Requirement, false, false),
    ("应该", Requirement, false, false),
    ("应当", Requirement, false, false),
    ("只准许", Requirement, false, false),
    ("不应", Requirement, true, false),
    ("不应该", Requirement, true, false),
    ("不应当", Requirement, true, false),
    ("不准许", Requirement, true, false),
    ("必须", Requirement, false, true),
    ("须", Requirement, false, true),
    ("须要", Requirement, false, true),
    ("务必", Requirement, false, true),
    ("不必须", Permission, true, false),
    ("不得", Requirement, true, true),
    ("不可", Requirement, true, true),
    ("严禁", Requirement, true, true),
    ("禁止", Requirement, true, true),
    ("不允许", Requirement, true, true),
    ("宜", Recommendation, false, false),
    ("推荐", Recommendation, false, false),
    ("建议", Recommendation, false, false),
    ("不宜", Recommendation, true, false),
    ("不推荐", Recommendation, true, false),
    ("不建议", Recommendation, true, false),
    ("可", Permission, false, false),
    ("可以", Permission, false, false),
    ("允许", Permission, false, false),
    ("准许", Permission, false, false),
    ("不必", Permission, true, false),
    ("无须", Permission, true, false),
    ("无需", Permission, true, false),
    ("毋须", Permission, true, false),
    ("毋需", Permission, true, false),
    ("不需要", Permission, true, false),
    ("不需", Permission, true, false),
    ("能", Capability, false, false),
    ("能够", Capability, false, false),
    ("不能", Capability, true, false),
    ("不能够", Capability, true, false),
    ("可能", Possibility, false, false),
    ("有可能", Possibility, false, false),
    ("不可能", Possibility, true, false),
    ("没有可能", Possibility, true, false),
    ("没可能", Possibility, true, false),
];

/// Dictionary words that *begin* with a verbal form followed by an ordinary word or
/// preposition (应为 = 应 + 为, 亦可 = 亦 + 可). jieba keeps them whole, so they are split
/// back here: (word, the form inside it).
const COMPOUNDS: &[(&str, &str)] = &[
    ("应为", "应"),
    ("应从", "应"),
    ("应予", "应"),
    ("应以", "应"),
    ("应在", "应"),
    ("应由", "应"),
    ("应按", "应"),
    ("应有", "应"),
    ("应选", "应"),
    ("应考", "应"),
    ("均应", "应"),
    ("亦应", "应"),
    ("也应", "应"),
    ("还应", "应"),
    ("并应", "应"),
    ("仍应", "应"),
    ("尚应", "应"),
    ("理应", "应"),
    ("亦可", "可"),
    ("也可", "可"),
    ("均可", "可"),
    ("还可", "可"),
    ("可用", "可"),
    ("可供", "可"),
    ("可由", "可"),
    ("可按", "可"),
    ("可选", "可"),
    ("可通过", "可"),
    ("宜于", "宜"),
    ("不能不", "应"),
    ("内应", "应"),
    ("应计", "应"),
    ("应立即", "应"),
    ("应予以", "应"),
    ("方可", "可"),
    ("可延长", "可"),
    ("可不", "可"),
];

/// Words that follow 可用 and turn it into a noun (可用性, 可用率).
const KEYU_NOUN_NEXT: &[&str] = &["性", "率", "度", "状态", "资源", "余额", "名额", "时间"];

/// Words that, just before 允许/许可/准许, make it a noun-phrase of consent (未经本人允许),
/// not a verbal form.
const CONSENT_BEFORE: &[&str] = &[
    "经", "未经", "征得", "获得", "取得", "得到", "经过", "本人", "客户", "用户",
];

/// Verbs after 应对 that show it is 应 + 对 (应对订单进行核验), not 应对 "cope with".
const YINGDUI_VERBS: &[&str] = &[
    "进行", "实施", "开展", "予以", "加以", "作出", "做出", "提供", "建立", "核验", "审核", "处理",
    "采取", "保密", "备份", "记录", "登记", "公示", "评价", "检查", "监测", "留存",
];

/// Domain words added to jieba so that segmentation sees them whole (and so that the
/// characters inside them never look like verbal forms).
pub const DOMAIN_WORDS: &[&str] = &[
    "安心码",
    "红码",
    "黄码",
    "绿码",
    "派单",
    "抢单",
    "接单",
    "网点",
    "家政员",
    "家政服务员",
    "家政服务",
    "家政服务机构",
    "响应时间",
    "首次响应",
    "应急预案",
    "应急演练",
    "应急处置",
    "应急响应",
    "供应链",
    "可追溯",
    "可视化",
    "可用性",
    "不可抗力",
    "驾驶舱",
    "健康证",
    "体检",
    "背景调查",
    "信用评价",
    "信用预警",
    "岗前培训",
    "回访",
    "验收确认",
    "服务网点",
    "营业执照",
    "投诉电话",
    "满意度",
    "评家政",
    "找家政",
    "知家政",
    "当家政",
    "数字化",
    "智能化",
    "赋能",
    "可持续",
    "可持续发展",
    "可扩展性",
    "可维护性",
    "应收账款",
    "应聘者",
    "不可或缺",
    "尽可能",
    "可持续",
    "可持续发展",
    "可扩展性",
    "可维护性",
    "失能",
    "半失能",
    "失智",
    "可及性",
    "可达性",
    "可得性",
    "可读性",
    "可操作性",
    "可比性",
    "可替代性",
    "可复制性",
    "可推广性",
    "可用率",
];

/// The classifier: a jieba instance extended with domain words. Loading the dictionary
/// takes ~100 ms (release), so there is one per process: use [`Classifier::global`].
pub struct Classifier {
    jieba: Jieba,
}

static GLOBAL: LazyLock<Classifier> = LazyLock::new(Classifier::new);

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Classifier {
    pub fn new() -> Self {
        let mut jieba = Jieba::new();
        for w in DOMAIN_WORDS {
            jieba.add_word(w, Some(20_000), None);
        }
        // Make sure the lexicon's own multi-character forms segment whole.
        for (w, ..) in LEXICON {
            if w.chars().count() > 1 {
                jieba.add_word(w, Some(30_000), None);
            }
        }
        Classifier { jieba }
    }

    pub fn global() -> &'static Classifier {
        &GLOBAL
    }

    /// The segmenter (shared with search, so both see the same words).
    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// The jieba segmentation the classifier works on (for `--explain`).
    pub fn words<'a>(&self, sentence: &'a str) -> Vec<&'a str> {
        self.jieba
            .cut(sentence, false)
            .into_iter()
            .map(|t| t.word)
            .collect()
    }

    pub fn classify(&self, sentence: &str) -> Classification {
        // Fast path: no candidate character at all (most statements and table cells).
        if !sentence.contains([
            '应', '宜', '可', '能', '须', '必', '得', '禁', '许', '推', '建', '需', '务',
        ]) {
            return Classification::statement();
        }
        let tokens = self.jieba.cut(sentence, false);
        let words: Vec<(&str, usize)> = tokens.iter().map(|t| (t.word, t.byte_start)).collect();
        let mut forms = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let (w, off) = words[i];
            // Negation and 有/没有 are separate tokens when jieba has no entry for the pair.
            let mut consumed = 1;
            let mut word: std::borrow::Cow<str> = w.into();
            if let Some(&(next, _)) = words.get(i + 1) {
                let joined = format!("{w}{next}");
                if matches!(w, "不" | "没有" | "有" | "没" | "只" | "毋" | "无")
                    && lookup(&joined).is_some()
                {
                    word = joined.into();
                    consumed = 2;
                }
            }
            if let Some(form) = self.form_at(&word, off, &words, i, i + consumed - 1) {
                forms.push(form);
            }
            i += consumed;
        }
        Classification::from_forms(forms)
    }

    /// The verbal form a word is, given its neighbours. The word spans the tokens
    /// `first..=last` (two when a negation was joined to it: 不 + 应).
    fn form_at(
        &self,
        word: &str,
        offset: usize,
        words: &[(&str, usize)],
        first: usize,
        last: usize,
    ) -> Option<Form> {
        let next = words.get(last + 1).map(|w| w.0);
        let prev = first.checked_sub(1).map(|i| words[i].0);
        let mk = |kind, negative, discouraged, w: &str, off| Form {
            kind,
            negative,
            word: w.to_string(),
            offset: off,
            discouraged,
        };
        if let Some((kind, negative, discouraged)) = lookup(word) {
            match word {
                // 建议/推荐 are verbal forms when they introduce an action (建议每季度开展…,
                // 推荐采用…), not as nouns (投诉建议, 推荐名单) or as the platform's own
                // action on an object (向客户推荐家政员).
                "建议" | "推荐" | "不建议" | "不推荐" if !recommendation_verb(words, last) =>
                {
                    return None;
                }
                // 能 split off a 性能 compound (绝缘性|能): jieba took 性 into the word before.
                "能" if prev.is_some_and(|p| p.ends_with('性')) => return None,
                // 可 as an adjective prefix: 可识别的自然人, 为可选内容 (identifiable, optional).
                "可" if next_next_is_de(words, last)
                    || prev.is_some_and(|p| matches!(p, "为" | "是" | "属于")) =>
                {
                    return None;
                }
                "允许" | "准许"
                    if prev.is_some_and(|p| CONSENT_BEFORE.contains(&p))
                        || next.is_some_and(|n| n == "的") =>
                {
                    return None;
                }
                // 禁止 as a noun modifier: 禁止性规定, 禁止行为
                "禁止" if next.is_some_and(|n| matches!(n, "性" | "的" | "行为" | "事项")) =>
                {
                    return None;
                }
                _ => {}
            }
            return Some(mk(kind, negative, discouraged, word, offset));
        }
        if word == "应对" {
            let rest: Vec<&str> = words[last + 1..]
                .iter()
                .map(|w| w.0)
                .take_while(|w| !matches!(*w, "，" | "。" | "；" | "," | ";"))
                .collect();
            return rest
                .iter()
                .any(|w| YINGDUI_VERBS.contains(w))
                .then(|| mk(Requirement, false, false, "应", offset));
        }
        if word == "可用" && next.is_some_and(|n| KEYU_NOUN_NEXT.contains(&n)) {
            return None;
        }
        if let Some((_, inner)) = COMPOUNDS.iter().find(|(w, _)| *w == word) {
            let (kind, negative, discouraged) = lookup(inner)?;
            let inner_off = offset + word.find(inner).unwrap_or(0);
            return Some(mk(kind, negative, discouraged, inner, inner_off));
        }
        None
    }
}

/// `可 V 的`: the word after the next one is 的.
fn next_next_is_de(words: &[(&str, usize)], idx: usize) -> bool {
    words.get(idx + 2).is_some_and(|w| w.0 == "的")
}

fn lookup(word: &str) -> Option<(ProvisionType, bool, bool)> {
    LEXICON
        .iter()
        .find(|(w, ..)| *w == word)
        .map(|&(_, k, n, d)| (k, n, d))
}

fn is_clause_break(w: &str) -> bool {
    matches!(
        w,
        "，" | "。" | "；" | "：" | "、" | "！" | "？" | "," | ";" | ":"
    )
}

/// 建议/推荐 work as verbal forms when they introduce an action (建议对客户进行回访,
/// 推荐采用…), not when they take an object noun (推荐相应的方案, 推荐名单) or are nouns
/// themselves (投诉建议).
fn recommendation_verb(words: &[(&str, usize)], idx: usize) -> bool {
    let prev = idx.checked_sub(1).map(|i| words[i].0);
    let next = words.get(idx + 1).map(|w| w.0);
    let Some(next) = next else { return false };
    if ACTION_NEXT.contains(&next) {
        return true;
    }
    let noun_next = is_clause_break(next)
        || matches!(
            next,
            "名单"
                | "书"
                | "的"
                | "意见"
                | "等级"
                | "结果"
                | "和"
                | "及"
                | "渠道"
                | "信息"
                | "列表"
                | "算法"
                | "相应"
                | "合适"
        );
    let at_clause_start = prev.is_none_or(is_clause_break);
    !noun_next && (at_clause_start || prev.is_some_and(|p| matches!(p, "一般" | "通常")))
}

/// Words after 建议/推荐 that start an action: the sentence recommends doing something.
const ACTION_NEXT: &[&str] = &[
    "对",
    "在",
    "采用",
    "使用",
    "选用",
    "每",
    "每年",
    "每季度",
    "每月",
    "按",
    "按照",
    "开展",
    "进行",
    "设置",
    "配置",
    "建立",
    "定期",
    "优先",
    "由",
    "以",
    "将",
    "通过",
    "至少",
    "结合",
    "增加",
    "安排",
    "组织",
    "实行",
    "实施",
    "参照",
];

/// Splits text into sentences at 。；！？ (full- and half-width), and at line breaks when
/// `lines` is set (free text typed one sentence per line). Returns byte ranges, trimmed
/// of whitespace; the terminator stays with its sentence.
pub fn split_sentences(text: &str, lines: bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, ch) in text.char_indices() {
        let end = i + ch.len_utf8();
        if matches!(ch, '。' | '；' | '！' | '？' | ';' | '!' | '?') || (lines && ch == '\n') {
            push_trimmed(text, start, end, &mut out);
            start = end;
        }
    }
    push_trimmed(text, start, text.len(), &mut out);
    out
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<std::ops::Range<usize>>) {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail < s.len() {
        let r = start + lead..end - trail;
        // A lone terminator is not a sentence.
        if text[r.clone()]
            .chars()
            .any(|c| !matches!(c, '。' | '；' | '！' | '？' | ';' | '!' | '?'))
        {
            out.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn t(s: &str) -> (ProvisionType, bool, Option<String>) {
        let c = Classifier::global().classify(s);
        (c.kind, c.negative, c.trigger)
    }

    #[test_case("平台应在20分钟内响应订单。", Requirement, false, "应")]
    #[test_case("红码人员不应派单。", Requirement, true, "不应")]
    #[test_case("平台应用大数据技术。", Statement, false, "")]
    #[test_case("记录应可追溯。", Requirement, false, "应")]
    #[test_case("系统具备可视化功能。", Statement, false, "")]
    #[test_case("家政员可能无法准时到达。", Possibility, false, "可能")]
    #[test_case("网点宜设在社区中心。", Recommendation, false, "宜")]
    #[test_case("选址应因地制宜。", Requirement, false, "应")]
    #[test_case("家政员必须持证上岗。", Requirement, false, "必须")]
    #[test_case("订单应在20分钟内受理，也可由网点代为受理。", Requirement, false, "应")]
    #[test_case("档案保存期限应不少于3年。", Requirement, false, "应")]
    #[test_case("系统能够自动识别红码人员。", Capability, false, "能够")]
    fn classifies(s: &str, kind: ProvisionType, neg: bool, trig: &str) {
        let (k, n, tr) = t(s);
        assert_eq!((k, n), (kind, neg), "{s}");
        assert_eq!(tr.unwrap_or_default(), trig, "{s}");
    }

    #[test]
    fn sentences_split_at_full_stops_and_semicolons() {
        let text = "应登记；应核验。 可抽查！";
        let parts: Vec<&str> = split_sentences(text, false)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(parts, ["应登记；", "应核验。", "可抽查！"]);
    }
}
