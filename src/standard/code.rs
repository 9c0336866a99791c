//! Standard codes (`T/ZTAC 001.2—2023`): parsing, normalisation, kinds and slugs.
//!
//! People write the dash between number and year as `-`, `–`, `－` or `—`, put spaces in
//! different places and type full-width letters. All of these must name the same
//! standard, so every code is parsed into [`Code`] and compared in its normal form:
//! one space after the prefix and an em dash (U+2014) before the year.

use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A parsed standard code. `year` is `None` for undated references (`GB/T 24421`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    pub prefix: String,
    pub number: String,
    pub year: Option<u16>,
    /// `（所有部分）` — the reference covers every part of a multi-part standard.
    pub all_parts: bool,
}

/// The kind of a standard, as implied by its code prefix and declared in front matter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    National,
    Industry,
    Local,
    Group,
    Enterprise,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::National => "national",
            Kind::Industry => "industry",
            Kind::Local => "local",
            Kind::Group => "group",
            Kind::Enterprise => "enterprise",
        }
    }

    /// The Chinese name used in the UI and reports.
    pub fn label(self) -> &'static str {
        match self {
            Kind::National => "国家标准",
            Kind::Industry => "行业标准",
            Kind::Local => "地方标准",
            Kind::Group => "团体标准",
            Kind::Enterprise => "企业标准",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a standard code: {reason}")]
pub struct CodeError {
    pub input: String,
    pub reason: &'static str,
}

static CODE_RE: LazyLock<Regex> = LazyLock::new(|| {
    // prefix: letters with optional /T, /Z or /<society>; DB + region digits; then number.
    Regex::new(
        r"^(?P<prefix>(?:[A-Z]{1,6}\d{0,6})(?:/(?:[A-Z][A-Z0-9]*[A-Z]|[A-Z]))?)\s*(?P<number>\d+(?:\.\d+)*)(?:\s*—\s*(?P<year>\d{4}))?\s*(?P<all>（所有部分）)?$",
    )
    .expect("static regex")
});

/// Folds full-width ASCII (`Ｔ／ＺＴＡＣ`) to half-width, every dash-like character to `—`,
/// and runs of whitespace (including U+3000) to one space. Used for codes and search.
pub fn normalize_code_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut last_space = false;
    for ch in input.trim().chars() {
        let ch = match ch {
            '（' | '）' => ch, // kept: part of `（所有部分）`
            '\u{FF0D}' | '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2015}'
            | '\u{2500}' | '\u{2014}' => '—',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{3000}' => ' ',
            c => c,
        };
        if ch.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(ch);
            last_space = false;
        }
    }
    out.replace("(所有部分)", "（所有部分）")
}

impl Code {
    pub fn parse(input: &str) -> Result<Code, CodeError> {
        let norm = normalize_code_text(input);
        let err = |reason| CodeError {
            input: input.to_string(),
            reason,
        };
        if norm.is_empty() {
            return Err(err("it is empty"));
        }
        let caps = CODE_RE.captures(&norm).ok_or_else(|| {
            err("expected PREFIX NUMBER—YEAR, e.g. `T/ZTAC 001.2—2023` or `GB/T 22239`")
        })?;
        let year = match caps.name("year") {
            Some(y) => Some(y.as_str().parse::<u16>().map_err(|_| err("bad year"))?),
            None => None,
        };
        if let Some(y) = year
            && !(1950..=2100).contains(&y)
        {
            return Err(err("the year must be between 1950 and 2100"));
        }
        Ok(Code {
            prefix: caps["prefix"].to_string(),
            number: caps["number"].to_string(),
            year,
            all_parts: caps.name("all").is_some(),
        })
    }

    /// The kind implied by the prefix, or `None` for prefixes we do not classify (ISO …).
    pub fn implied_kind(&self) -> Option<Kind> {
        let p = self.prefix.as_str();
        if matches!(p, "GB" | "GB/T" | "GB/Z") {
            Some(Kind::National)
        } else if p.starts_with("DB") {
            Some(Kind::Local)
        } else if p.starts_with("T/") {
            Some(Kind::Group)
        } else if p.starts_with("Q/") {
            Some(Kind::Enterprise)
        } else if p.len() <= 4
            && p.chars().take(2).all(|c| c.is_ascii_uppercase())
            && !p.starts_with("ISO")
        {
            Some(Kind::Industry)
        } else {
            None
        }
    }

    /// Mandatory national standards are `GB`, not `GB/T` or `GB/Z`.
    pub fn implies_mandatory(&self) -> bool {
        self.prefix == "GB" || (self.prefix.starts_with("DB") && !self.prefix.contains('/'))
    }

    /// `T/ZTAC 001.2` — the code without its year: every edition of the same standard.
    pub fn family(&self) -> String {
        format!("{} {}", self.prefix, self.number)
    }

    /// Part-aware family: `GB/T 24421.2` belongs to `GB/T 24421`.
    pub fn base_number(&self) -> &str {
        self.number.split('.').next().unwrap_or(&self.number)
    }

    /// Whether a reference written as `self` is satisfied by the edition `edition`.
    /// Undated references match any edition; `（所有部分）` matches any part.
    pub fn matches(&self, edition: &Code) -> bool {
        if self.prefix != edition.prefix {
            return false;
        }
        let number_ok = self.number == edition.number
            || (self.all_parts && self.base_number() == edition.base_number())
            || (edition.all_parts && self.base_number() == edition.base_number());
        let year_ok = match (self.year, edition.year) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        number_ok && year_ok
    }

    /// URL-safe form: lowercase, every run outside `a-z0-9.` replaced by `-`.
    pub fn slug(&self) -> String {
        slugify(&self.to_string())
    }
}

pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for ch in s.chars() {
        let c = ch.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
            out.push(c);
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.prefix, self.number)?;
        if let Some(y) = self.year {
            write!(f, "—{y}")?;
        }
        if self.all_parts {
            f.write_str("（所有部分）")?;
        }
        Ok(())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

static CITE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:GB/[TZ]|GB|DB\d{2,6}/T|DB\d{2,6}|T/[A-Z][A-Z0-9]*[A-Z]|Q/[A-Z][A-Z0-9]*[A-Z]|[A-Z]{2}/T|ISO(?:/IEC)?)\s?\d+(?:\.\d+)*(?:\s?[—\-–－]\s?\d{4})?(?:（所有部分）)?",
    )
    .expect("static regex")
});

/// Finds standard codes cited in running text, with their byte ranges.
pub fn find_citations(text: &str) -> Vec<(std::ops::Range<usize>, Code)> {
    CITE_RE
        .find_iter(text)
        .filter_map(|m| {
            // `ABGB/T 1` is not a citation: require a non-letter before the match.
            let before = text[..m.start()].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '/') {
                return None;
            }
            Code::parse(m.as_str()).ok().map(|c| (m.range(), c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("T/ZTAC 001.2—2023", "T/ZTAC 001.2—2023" ; "em dash")]
    #[test_case("T/ZTAC 001.2-2023", "T/ZTAC 001.2—2023" ; "hyphen")]
    #[test_case("T/ZTAC  001.2 – 2023", "T/ZTAC 001.2—2023" ; "en dash and spaces")]
    #[test_case("Ｔ／ＺＴＡＣ　００１.２－２０２３", "T/ZTAC 001.2—2023" ; "full width")]
    #[test_case("DB3301/T 0441—2024", "DB3301/T 0441—2024" ; "local")]
    #[test_case("GB/T 24421（所有部分）", "GB/T 24421（所有部分）" ; "all parts")]
    #[test_case("GB/T 24421(所有部分)", "GB/T 24421（所有部分）" ; "ascii parens")]
    #[test_case("GB/T22239", "GB/T 22239" ; "no space")]
    #[test_case("Q/YLX 001—2025", "Q/YLX 001—2025" ; "enterprise")]
    fn normalises(input: &str, expected: &str) {
        assert_eq!(Code::parse(input).unwrap().to_string(), expected);
    }

    #[test_case("" ; "empty")]
    #[test_case("家政服务规范" ; "title not code")]
    #[test_case("T/ZTAC 001—23" ; "two digit year")]
    #[test_case("T/ZTAC 001—1800" ; "year out of range")]
    fn rejects(input: &str) {
        assert!(Code::parse(input).is_err());
    }

    #[test_case("GB/T 1.1—2020", Kind::National)]
    #[test_case("SB/T 10847—2012", Kind::Industry)]
    #[test_case("DB33/T 2396—2021", Kind::Local)]
    #[test_case("T/ZTAC 002—2023", Kind::Group)]
    #[test_case("Q/YLX 001—2025", Kind::Enterprise)]
    fn kinds(code: &str, kind: Kind) {
        assert_eq!(Code::parse(code).unwrap().implied_kind(), Some(kind));
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            Code::parse("T/ZTAC 001.2—2023").unwrap().slug(),
            "t-ztac-001.2-2023"
        );
        assert_eq!(
            Code::parse("DB3301/T 0441—2024").unwrap().slug(),
            "db3301-t-0441-2024"
        );
    }

    #[test]
    fn undated_and_all_parts_references_match_editions() {
        let c = |s| Code::parse(s).unwrap();
        assert!(c("GB/T 22239").matches(&c("GB/T 22239—2019")));
        assert!(!c("GB/T 22239—2008").matches(&c("GB/T 22239—2019")));
        assert!(c("GB/T 24421（所有部分）").matches(&c("GB/T 24421.2—2023")));
        assert!(!c("GB/T 24421.1").matches(&c("GB/T 24421.2—2023")));
        assert!(!c("GB 22239").matches(&c("GB/T 22239")));
    }

    #[test]
    fn finds_citations_in_text() {
        let found: Vec<String> =
            find_citations("应符合GB/T 22239—2019的规定，并满足DB33/T 2396和T/ZTAC 001.1-2023。")
                .into_iter()
                .map(|(_, c)| c.to_string())
                .collect();
        assert_eq!(
            found,
            ["GB/T 22239—2019", "DB33/T 2396", "T/ZTAC 001.1—2023"]
        );
    }
}
