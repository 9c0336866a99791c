//! The search query language: free words, "phrases", -exclusions and filters.
//!
//! `红码 派单 -演练 "首次响应" std:T/ZTAC 001.2-2023 type:requirement year:2023`

use serde::Serialize;

/// Filters a query may use: (name, what it takes).
pub const FILTERS: &[(&str, &str)] = &[
    (
        "std",
        "a standard code, family or prefix: std:T/ZTAC 001.2-2023, std:T/ZTAC 001.2, std:DB3301/T",
    ),
    (
        "kind",
        "national | industry | local | group | enterprise (or 国家标准 …)",
    ),
    (
        "status",
        "current | superseded | withdrawn | draft (or 现行 …)",
    ),
    (
        "type",
        "requirement | recommendation | permission | capability | possibility | statement (or 要求/应, 推荐/宜, 允许/可) — searches provisions",
    ),
    (
        "category",
        "a GB/T 24421 node: category:服务提供标准 or category:服务提供标准/服务提供规范",
    ),
    (
        "year",
        "edition year, or a range: year:2023, year:2020-2024",
    ),
    (
        "dept",
        "owning department of an enterprise standard: dept:客服部",
    ),
];

/// Longest query accepted (characters).
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    pub text: String,
    pub phrase: bool,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub name: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParsedQuery {
    pub words: Vec<Word>,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "empty query: type words to search for (红码 派单), or filters such as std:T/ZTAC 001.2-2023"
    )]
    Empty,
    #[error("query is {0} characters long; the limit is {MAX_QUERY_CHARS}")]
    TooLong(usize),
    #[error("unknown filter `{name}:`; valid filters are {valid}", name = .0, valid = FILTERS.iter().map(|f| format!("{}:", f.0)).collect::<Vec<_>>().join(" "))]
    UnknownFilter(String),
    #[error("filter `{0}:` needs a value, e.g. {1}")]
    EmptyFilter(&'static str, &'static str),
    #[error("invalid value `{value}` for `{name}:`; expected {expected}")]
    BadValue {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("nothing searchable in the query (only symbols or emoji?)")]
    NothingSearchable,
}

/// Parses a query. Unbalanced quotes close at the end of the query.
pub fn parse(input: &str) -> Result<ParsedQuery, QueryError> {
    let count = input.chars().count();
    if count > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong(count));
    }
    // Control characters are dropped; full-width space and quotes are folded.
    let cleaned: String = input
        .chars()
        .filter(|c| !c.is_control() || *c == ' ' || *c == '\t')
        .map(|c| match c {
            '\u{3000}' | '\t' => ' ',
            '“' | '”' | '＂' => '"',
            '：' => ':',
            c => c,
        })
        .collect();
    if cleaned.trim().is_empty() {
        return Err(QueryError::Empty);
    }
    let chars: Vec<char> = cleaned.chars().collect();
    let mut q = ParsedQuery::default();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-' && i + 1 < chars.len() && chars[i + 1] != ' ';
        if negated {
            i += 1;
        }
        if chars[i] == '"' {
            let (text, next) = quoted(&chars, i);
            i = next;
            if !text.trim().is_empty() {
                q.words.push(Word {
                    text: text.trim().to_string(),
                    phrase: true,
                    negated,
                });
            }
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i] != ' ' && chars[i] != '"' {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        // `name:value` with an ASCII name is a filter; other colons are text (e.g. 20:00).
        if let Some((name, value)) = token
            .split_once(':')
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphabetic()))
        {
            let name_lc = name.to_ascii_lowercase();
            let Some(&(fname, example)) = FILTERS
                .iter()
                .find(|f| f.0 == name_lc || (f.0 == "dept" && name_lc == "department"))
            else {
                return Err(QueryError::UnknownFilter(name.to_string()));
            };
            let mut value = value.to_string();
            if value.is_empty() && i < chars.len() && chars[i] == '"' {
                let (text, next) = quoted(&chars, i);
                value = text;
                i = next;
            }
            // `std:T/ZTAC 001.2-2023`: the number after the space belongs to the code.
            if fname == "std" && !value.is_empty() && !value.chars().any(|c| c.is_ascii_digit()) {
                let mut j = i;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                let k = (j..chars.len())
                    .find(|&k| chars[k] == ' ')
                    .unwrap_or(chars.len());
                if j < k && chars[j].is_ascii_digit() {
                    value = format!("{value} {}", chars[j..k].iter().collect::<String>());
                    i = k;
                }
            }
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(QueryError::EmptyFilter(fname, example));
            }
            q.filters.push(Filter {
                name: fname,
                value: check_value(fname, &value, example)?,
            });
            continue;
        }
        if negated && token.is_empty() {
            continue;
        }
        q.words.push(Word {
            text: token,
            phrase: false,
            negated,
        });
    }
    if q.words.is_empty() && q.filters.is_empty() {
        return Err(QueryError::Empty);
    }
    Ok(q)
}

fn quoted(chars: &[char], open: usize) -> (String, usize) {
    let mut j = open + 1;
    while j < chars.len() && chars[j] != '"' {
        j += 1;
    }
    let text: String = chars[open + 1..j].iter().collect();
    (text, (j + 1).min(chars.len()))
}

/// Canonical value of a filter (`要求` → `requirement`), or why it is invalid.
fn check_value(
    name: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<String, QueryError> {
    let bad = || QueryError::BadValue {
        name,
        value: value.to_string(),
        expected,
    };
    let v = value.to_lowercase();
    let pick = |pairs: &[(&str, &[&str])]| {
        pairs
            .iter()
            .find(|(_, alts)| alts.contains(&v.as_str()))
            .map(|(c, _)| c.to_string())
    };
    match name {
        "kind" => pick(&[
            ("national", &["national", "国家标准", "国标"]),
            ("industry", &["industry", "行业标准", "行标"]),
            ("local", &["local", "地方标准", "地标"]),
            ("group", &["group", "团体标准", "团标"]),
            ("enterprise", &["enterprise", "企业标准", "企标"]),
        ])
        .ok_or_else(bad),
        "status" => pick(&[
            ("current", &["current", "现行", "有效"]),
            ("superseded", &["superseded", "被代替", "作废"]),
            ("withdrawn", &["withdrawn", "废止"]),
            ("draft", &["draft", "草案"]),
        ])
        .ok_or_else(bad),
        "type" => pick(&[
            ("requirement", &["requirement", "要求", "应"]),
            ("recommendation", &["recommendation", "推荐", "宜"]),
            ("permission", &["permission", "允许", "可"]),
            ("capability", &["capability", "能力", "能"]),
            ("possibility", &["possibility", "可能性", "可能"]),
            ("statement", &["statement", "陈述"]),
        ])
        .ok_or_else(bad),
        "year" => {
            let ok = |y: &str| y.len() == 4 && y.chars().all(|c| c.is_ascii_digit());
            match v.split_once('-') {
                Some((a, b)) if ok(a) && ok(b) && a <= b => Ok(v.clone()),
                None if ok(&v) => Ok(v.clone()),
                _ => Err(bad()),
            }
        }
        _ => Ok(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test]
    fn words_phrases_exclusions_filters() {
        let q = parse("红码 派单 -演练 \"首次响应\" std:T/ZTAC 001.2-2023 type:要求 year:2023")
            .unwrap();
        let w: Vec<(&str, bool, bool)> = q
            .words
            .iter()
            .map(|w| (w.text.as_str(), w.phrase, w.negated))
            .collect();
        assert_eq!(
            w,
            [
                ("红码", false, false),
                ("派单", false, false),
                ("演练", false, true),
                ("首次响应", true, false)
            ]
        );
        let f: Vec<(&str, &str)> = q
            .filters
            .iter()
            .map(|f| (f.name, f.value.as_str()))
            .collect();
        assert_eq!(
            f,
            [
                ("std", "T/ZTAC 001.2-2023"),
                ("type", "requirement"),
                ("year", "2023")
            ]
        );
    }

    #[test_case("" ; "empty")]
    #[test_case("   " ; "blank")]
    #[test_case("\u{0}\u{7}" ; "control only")]
    fn empty(q: &str) {
        assert_eq!(parse(q), Err(QueryError::Empty));
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = parse("color:red 红码").unwrap_err();
        assert!(
            e.to_string()
                .contains("valid filters are std: kind: status: type: category: year: dept:"),
            "{e}"
        );
        assert!(matches!(
            parse(&"字".repeat(10_000)),
            Err(QueryError::TooLong(10_000))
        ));
        assert!(
            parse("kind:foo")
                .unwrap_err()
                .to_string()
                .contains("national | industry")
        );
        assert!(matches!(
            parse("std:"),
            Err(QueryError::EmptyFilter("std", _))
        ));
    }

    #[test]
    fn unbalanced_quote_and_time_colon() {
        let q = parse("\"安心码 核验").unwrap();
        assert_eq!(q.words[0].text, "安心码 核验");
        let q = parse("22:00 派单").unwrap();
        assert_eq!(q.words[0].text, "22:00");
    }
}
