//! Front matter: YAML → schema validation → typed [`FrontMatter`].
//!
//! Validation runs against `schemas/standard.schema.json` (the same file users and
//! editors can point their tooling at), so the schema is the single definition of what
//! is allowed. Errors are mapped back to the YAML line of the offending key.

use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

use crate::diag::{Diagnostic, Pos};

use super::code::Kind;

pub const SCHEMA_JSON: &str = include_str!("../../schemas/standard.schema.json");

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: serde_json::Value =
        serde_json::from_str(SCHEMA_JSON).expect("bundled schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("bundled schema is valid")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Current,
    Superseded,
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Current => "current",
            Status::Superseded => "superseded",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "草案",
            Status::Current => "现行",
            Status::Superseded => "被代替",
            Status::Withdrawn => "废止",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Official,
    Reconstructed,
}

/// The front matter of a standard, as documented in `docs/standard-format.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub code: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    pub kind: Kind,
    #[serde(default)]
    pub mandatory: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsible: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drafting_units: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drafters: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ics: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ccs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filing_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub normative_references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub source: Source,
    #[serde(default)]
    pub reference_only: bool,
}

/// Parses and validates front matter. `first_line` is the file line of the YAML's first
/// line, so positions point into the file.
pub fn parse(yaml: &str, first_line: usize, file: &str) -> Result<FrontMatter, Vec<Diagnostic>> {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(first_line + l.line() - 1, l.column()))
            .unwrap_or(Pos::new(first_line, 1));
        vec![
            Diagnostic::error("yaml-syntax", file, pos, format!("front matter is not valid YAML: {}", strip_location(&e.to_string())))
                .with_help("front matter is `key: value` lines between two `---` lines; quote values that contain `:` or start with a special character"),
        ]
    })?;
    if value.is_null() {
        return Err(vec![
            Diagnostic::error(
                "front-matter-missing",
                file,
                Pos::new(first_line, 1),
                "front matter is empty",
            )
            .with_help(
                "add at least code, title, kind, status and source (see docs/standard-format.md)",
            ),
        ]);
    }
    let json = serde_json::to_value(&value).map_err(|e| {
        vec![
            Diagnostic::error(
                "front-matter-schema",
                file,
                Pos::new(first_line, 1),
                format!("front matter cannot be read as data: {e}"),
            )
            .with_help("keys must be plain strings"),
        ]
    })?;

    let mut diags: Vec<Diagnostic> = VALIDATOR
        .iter_errors(&json)
        .map(|err| schema_diagnostic(&err, yaml, first_line, file))
        .collect();
    if !diags.is_empty() {
        diags.sort_by_key(|d| (d.line, d.col));
        // One message per key: a bad date fails both `pattern` and `format`.
        diags.dedup_by(|a, b| a.line == b.line && a.col == b.col);
        return Err(diags);
    }
    serde_json::from_value::<FrontMatter>(json).map_err(|e| {
        vec![Diagnostic::error(
            "front-matter-schema",
            file,
            Pos::new(first_line, 1),
            format!("front matter does not fit the model: {e}"),
        )]
    })
}

fn strip_location(msg: &str) -> String {
    // serde_yaml appends " at line N column M", which our position already says.
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn schema_diagnostic(
    err: &jsonschema::ValidationError<'_>,
    yaml: &str,
    first_line: usize,
    file: &str,
) -> Diagnostic {
    use jsonschema::error::ValidationErrorKind as K;
    let path = err.instance_path().as_str().to_string();
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let key = segments.next();
    let index = segments.next().and_then(|s| s.parse::<usize>().ok());
    match err.kind() {
        K::AdditionalProperties { unexpected } => {
            let name = unexpected.first().cloned().unwrap_or_default();
            let pos = key_pos(yaml, &name, None, first_line);
            Diagnostic::error(
                "front-matter-schema",
                file,
                pos,
                format!("unknown front-matter key `{name}`"),
            )
            .with_help(format!("allowed keys: {}", allowed_keys().join(", ")))
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default().to_string();
            Diagnostic::error(
                "front-matter-schema",
                file,
                Pos::new(first_line, 1),
                format!("missing required front-matter key `{name}`"),
            )
            .with_help("required keys: code, title, kind, status, source")
        }
        kind => {
            let name = key.unwrap_or("front matter");
            let pos = key
                .map(|k| key_pos(yaml, k, index, first_line))
                .unwrap_or(Pos::new(first_line, 1));
            let (what, help) = match kind {
                K::Type { .. } => (
                    format!("`{}` has the wrong type: {err}", display_path(&path)),
                    "quote text values (e.g. ics: \"03.080.99\"), write lists as `- item` lines and booleans as true/false".to_string(),
                ),
                K::Enum { .. } => (
                    format!("`{}` has a value that is not allowed: {err}", display_path(&path)),
                    "see the allowed values in docs/standard-format.md".to_string(),
                ),
                K::Pattern { .. } | K::Format { .. } => (
                    format!("`{}` is malformed: {err}", display_path(&path)),
                    match name {
                        "published" | "effective" => "write dates as YYYY-MM-DD, e.g. 2023-05-01".to_string(),
                        "category" => "use a GB/T 24421 node path, e.g. 服务提供标准/服务提供规范".to_string(),
                        "ics" => "ICS numbers look like 03.080.99".to_string(),
                        "ccs" => "CCS codes look like A12".to_string(),
                        _ => "see docs/standard-format.md".to_string(),
                    },
                ),
                _ => (format!("`{}`: {err}", display_path(&path)), "see docs/standard-format.md".to_string()),
            };
            Diagnostic::error("front-matter-schema", file, pos, what).with_help(help)
        }
    }
}

fn display_path(path: &str) -> String {
    path.trim_start_matches('/').replace('/', ".")
}

fn allowed_keys() -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA_JSON).unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Positions of the top-level keys (`code`) and list items (`normative_references.2`)
/// of a front matter, so that later checks can point at the YAML line they concern.
pub fn positions(yaml: &str, first_line: usize) -> std::collections::BTreeMap<String, Pos> {
    let mut out = std::collections::BTreeMap::new();
    let mut current: Option<(String, usize)> = None;
    for (i, line) in yaml.lines().enumerate() {
        let line_no = first_line + i;
        if !line.starts_with([' ', '\t', '-', '#'])
            && let Some((key, _)) = line.split_once(':')
        {
            let key = key.trim().to_string();
            out.insert(key.clone(), Pos::new(line_no, 1));
            current = Some((key, 0));
            continue;
        }
        if let Some((key, n)) = current.as_mut() {
            let t = line.trim_start();
            if t.starts_with('-') {
                out.insert(
                    format!("{key}.{n}"),
                    Pos::new(line_no, line.len() - t.len() + 1),
                );
                *n += 1;
            }
        }
    }
    out
}

/// Line of a top-level `key:` (and of its `index`-th list item) in the YAML text.
pub fn key_pos(yaml: &str, key: &str, index: Option<usize>, first_line: usize) -> Pos {
    let lines: Vec<&str> = yaml.lines().collect();
    let Some(k) = lines.iter().position(|l| {
        l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    }) else {
        return Pos::new(first_line, 1);
    };
    if let Some(n) = index {
        let items = lines[k + 1..]
            .iter()
            .enumerate()
            .take_while(|(_, l)| l.starts_with(' ') || l.starts_with('-'))
            .filter(|(_, l)| l.trim_start().starts_with('-'))
            .map(|(i, l)| (i, l.len() - l.trim_start().len()))
            .nth(n);
        if let Some((i, indent)) = items {
            return Pos::new(first_line + k + 1 + i, indent + 1);
        }
    }
    Pos::new(first_line + k, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "code: T/ZTAC 002—2023\ntitle: 网点规范\nkind: group\nstatus: current\nsource: reconstructed\n";

    #[test]
    fn valid_front_matter_parses() {
        let fm = parse(OK, 2, "a.md").unwrap();
        assert_eq!(fm.kind, Kind::Group);
        assert_eq!(fm.status, Status::Current);
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let yaml = format!("{OK}colour: red\n");
        let err = parse(&yaml, 2, "a.md").unwrap_err();
        assert_eq!(err[0].line, 7);
        assert!(
            err[0].message.contains("unknown front-matter key `colour`"),
            "{}",
            err[0].message
        );
    }

    #[test]
    fn wrong_type_and_bad_date_are_reported_with_lines() {
        let yaml = format!("{OK}mandatory: \"yes\"\npublished: 2023-13-45\n");
        let err = parse(&yaml, 2, "a.md").unwrap_err();
        let lines: Vec<usize> = err.iter().map(|d| d.line).collect();
        assert!(lines.contains(&7) && lines.contains(&8), "{err:?}");
    }

    #[test]
    fn list_item_errors_point_at_the_item() {
        let yaml = format!("{OK}drafters:\n  - 张三\n  - 42\n");
        let err = parse(&yaml, 2, "a.md").unwrap_err();
        assert_eq!((err[0].line, err[0].col), (9, 3), "{err:?}");
    }

    #[test]
    fn yaml_syntax_error_has_a_file_line() {
        let err = parse("code: [unclosed\ntitle: x\n", 2, "a.md").unwrap_err();
        assert_eq!(err[0].code, "yaml-syntax");
        assert!(err[0].line >= 2);
    }
}
