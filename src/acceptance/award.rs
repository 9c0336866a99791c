//! Award application forms (浙江省标准创新贡献奖): sections with character limits
//! (`acceptance/award-*.yaml`), drafts generated from the project's data, the limit
//! check that gates every export, and the DOCX export (the PDF is typst's).

use serde::{Deserialize, Serialize};

use super::chars;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: String,
    /// At most this many characters ([`chars::count`]).
    pub limit: usize,
    #[serde(default)]
    pub hint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub id: String,
    pub title: String,
    pub sections: Vec<Section>,
}

impl Form {
    pub fn from_yaml(text: &str, file: &str) -> Result<Form, String> {
        let f: Form = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{file}:{}", l.line()))
                .unwrap_or_else(|| file.to_string());
            format!("{at}: {e}")
        })?;
        let mut seen = std::collections::HashSet::new();
        for s in &f.sections {
            if !seen.insert(s.id.as_str()) {
                return Err(format!("{file}: section id `{}` is used twice", s.id));
            }
            if s.limit == 0 {
                return Err(format!("{file}: section `{}` needs a limit", s.id));
            }
        }
        Ok(f)
    }
}

/// A section over its limit: (title, counted, limit).
pub type Over = (String, usize, usize);

/// The sections whose text is over the limit. An export is refused unless empty.
pub fn over_limit(form: &Form, text_of: impl Fn(&str) -> String) -> Vec<Over> {
    form.sections
        .iter()
        .filter_map(|s| {
            let n = chars::count(&text_of(&s.id));
            (n > s.limit).then(|| (s.title.clone(), n, s.limit))
        })
        .collect()
}

/// What Biaozhun knows about the project, for drafting.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub name: String,
    pub kind: String,
    pub field: String,
    pub started: String,
    pub planned_end: String,
    pub undertaker: String,
    pub team: Vec<String>,
    /// Standards in the library: (category, count).
    pub standards_by_category: Vec<(String, usize)>,
    pub standards_total: usize,
    /// The latest audit's overall conformance rate, %.
    pub conformance: Option<f64>,
    /// The latest satisfaction survey: (valid responses, 满意度 %).
    pub survey: Option<(usize, f64)>,
    /// The acceptance review's conclusion and total.
    pub acceptance: Option<(String, f64)>,
}

/// Drafts of the sections Biaozhun's data can speak to; the others stay empty.
pub fn drafts(f: &Facts) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut intro = format!(
        "“{}”为{}",
        f.name,
        if f.kind.is_empty() {
            "标准化项目"
        } else {
            &f.kind
        }
    );
    if !f.started.is_empty() {
        intro.push_str(&format!("，于{}立项", f.started));
        if !f.planned_end.is_empty() {
            intro.push_str(&format!("，实施至{}", f.planned_end));
        }
    }
    if !f.undertaker.is_empty() {
        intro.push_str(&format!("，由{}承担", f.undertaker));
    }
    intro.push('。');
    if f.standards_total > 0 {
        let cats: Vec<String> = f
            .standards_by_category
            .iter()
            .map(|(c, n)| format!("{c}{n}项"))
            .collect();
        intro.push_str(&format!(
            "项目建立了服务标准体系，标准库现有标准{}项（{}）。",
            f.standards_total,
            cats.join("、")
        ));
    }
    if let Some((conclusion, total)) = &f.acceptance {
        intro.push_str(&format!(
            "项目经专家组验收，综合得分{total:.1}分，验收结论为{conclusion}。"
        ));
    }
    out.push(("project-intro", intro));
    let mut implementation =
        String::from("标准实施依托数字化平台，服务全过程留痕，订单事件日志按标准条款自动检查。");
    if let Some(rate) = f.conformance {
        implementation.push_str(&format!("最近一次符合性审核的总体符合率为{rate:.1}%。"));
    }
    if let Some((n, csat)) = f.survey {
        implementation.push_str(&format!(
            "最近一次顾客满意度调查有效问卷{n}份，满意度{csat:.1}%。"
        ));
    }
    out.push(("implementation", implementation));
    if !f.team.is_empty() {
        out.push(("contributors", f.team.join("；")));
    }
    out
}

/// The form as a Word document: title, then each section's heading and text.
pub fn docx(
    form: &Form,
    project: &str,
    text_of: impl Fn(&str) -> String,
) -> Result<Vec<u8>, String> {
    use docx_rs::{Docx, Paragraph, Run};
    let mut doc = Docx::new()
        .add_paragraph(Paragraph::new().add_run(Run::new().add_text(&form.title).bold().size(32)))
        .add_paragraph(
            Paragraph::new().add_run(Run::new().add_text(format!("申报项目：{project}")).size(24)),
        );
    for s in &form.sections {
        let text = text_of(&s.id);
        doc = doc.add_paragraph(
            Paragraph::new().add_run(
                Run::new()
                    .add_text(format!(
                        "{}（限{}字，已用{}字）",
                        s.title,
                        s.limit,
                        chars::count(&text)
                    ))
                    .bold()
                    .size(26),
            ),
        );
        for line in text.lines() {
            doc = doc.add_paragraph(Paragraph::new().add_run(Run::new().add_text(line).size(24)));
        }
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.build().pack(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> Form {
        Form::from_yaml(
            include_str!("../../acceptance/award-project.yaml"),
            "award-project.yaml",
        )
        .unwrap()
    }

    #[test]
    fn the_shipped_forms_have_the_application_limits() {
        let f = form();
        let limit = |id: &str| f.sections.iter().find(|s| s.id == id).unwrap().limit;
        assert_eq!(limit("org-intro"), 800);
        assert_eq!(limit("project-intro"), 800);
        assert_eq!(limit("technical"), 1500);
        assert_eq!(limit("economic"), 1500);
        assert_eq!(limit("contributors"), 500);
        let p = Form::from_yaml(
            include_str!("../../acceptance/award-pilot.yaml"),
            "award-pilot.yaml",
        )
        .unwrap();
        assert_eq!(p.id, "award-pilot");
        assert_eq!(p.sections.len(), f.sections.len());
    }

    #[test]
    fn over_limit_sections_are_named_with_their_counts() {
        let f = form();
        let long = "字".repeat(801);
        let over = over_limit(&f, |id| {
            if id == "org-intro" {
                long.clone()
            } else {
                "短".into()
            }
        });
        assert_eq!(over, vec![("申报组织简介".to_string(), 801, 800)]);
        // Exactly at the limit is fine; spaces and line breaks do not count.
        let at = format!("{}\n\n  ", "字".repeat(800));
        assert!(
            over_limit(&f, |_| at.clone())
                .iter()
                .all(|(t, _, _)| t != "申报组织简介")
        );
    }

    #[test]
    fn a_docx_is_a_word_document_with_every_section() {
        let f = form();
        let bytes = docx(&f, "数字家政管理与服务", |id| {
            format!("{id} 的正文")
        })
        .unwrap();
        assert!(bytes.starts_with(b"PK"));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
            .unwrap();
        assert!(
            xml.contains("申报组织简介（限800字，已用") && xml.contains("contributors 的正文"),
            "{xml}"
        );
    }
}
