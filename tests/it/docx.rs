//! Word import against real .docx files, written by an independent implementation
//! (the `docx-rs` crate) the way Word lays them out: heading styles by name, Word
//! numbering definitions, tables, a cover before the first heading.

use biaozhun::standard::Collection;
use biaozhun::standard::docx::{Options, import};
use docx_rs::*;

fn para(text: &str) -> Paragraph {
    Paragraph::new().add_run(Run::new().add_text(text))
}

fn styled(style: &str, text: &str) -> Paragraph {
    para(text).style(style)
}

fn pack(doc: Docx) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.build()
        .pack(&mut buf)
        .expect("docx-rs writes the package");
    buf.into_inner()
}

fn heading_styles(doc: Docx, ids: [&str; 3]) -> Docx {
    ids.iter().enumerate().fold(doc, |d, (i, id)| {
        d.add_style(
            Style::new(*id, StyleType::Paragraph)
                .name(format!("heading {}", i + 1))
                .based_on("Normal"),
        )
    })
}

const OPTS: Options = Options {
    code: "Q/BZ 003—2026",
    title: "（未命名）",
    category: "服务提供标准/服务提供规范",
};

/// The layout of a department's Word file written to GB/T 1.1 by hand: typed
/// numbers, a cover, lists with Word numbering, a table, an informative annex.
pub fn typed_numbers() -> Vec<u8> {
    let lists = AbstractNumbering::new(1)
        .add_level(Level::new(
            0,
            Start::new(1),
            NumberFormat::new("lowerLetter"),
            LevelText::new("%1)"),
            LevelJc::new("left"),
        ))
        .add_level(Level::new(
            1,
            Start::new(1),
            NumberFormat::new("decimal"),
            LevelText::new("%2)"),
            LevelJc::new("left"),
        ));
    let bullets = AbstractNumbering::new(2).add_level(Level::new(
        0,
        Start::new(1),
        NumberFormat::new("bullet"),
        LevelText::new("—"),
        LevelJc::new("left"),
    ));
    let item = |text: &str, level: usize| {
        para(text).numbering(NumberingId::new(1), IndentLevel::new(level))
    };
    let bullet = |text: &str| para(text).numbering(NumberingId::new(2), IndentLevel::new(0));
    let cell = |t: &str| TableCell::new().add_paragraph(para(t));
    let doc = heading_styles(Docx::new(), ["Heading1", "Heading2", "Heading3"])
        .add_abstract_numbering(lists)
        .add_abstract_numbering(bullets)
        .add_numbering(Numbering::new(1, 1))
        .add_numbering(Numbering::new(2, 2))
        .add_paragraph(para("Q/BZ 003—2025"))
        .add_paragraph(para("企业标准"))
        .add_paragraph(para("家政服务上门作业规范"))
        .add_paragraph(para("2025-06-01发布"))
        .add_paragraph(styled("Heading1", "前言"))
        .add_paragraph(para("本文件按照GB/T 1.1—2020的规定起草。"))
        .add_paragraph(styled("Heading1", "1 范围"))
        .add_paragraph(para("本文件规定了家政服务人员上门作业的要求。"))
        .add_paragraph(para("本文件适用于本公司的上门家政服务。"))
        .add_paragraph(styled("Heading1", "2 规范性引用文件"))
        .add_paragraph(para("本文件没有规范性引用文件。"))
        .add_paragraph(styled("Heading1", "3 术语和定义"))
        .add_paragraph(para("本文件没有需要界定的术语和定义。"))
        .add_paragraph(styled("Heading1", "4 作业要求"))
        .add_paragraph(styled("Heading2", "4.1　到达"))
        .add_paragraph(para(
            "4.1.1　家政服务人员应在预约时间前10 min到达客户家中。",
        ))
        .add_paragraph(para("4.1.2　家政服务人员到达后宜先与客户确认服务内容。"))
        .add_paragraph(styled("Heading2", "4.2 工具"))
        .add_paragraph(para("家政服务人员应携带以下工具："))
        .add_paragraph(item("清洁工具；", 0))
        .add_paragraph(item("防护用品：", 0))
        .add_paragraph(item("手套；", 1))
        .add_paragraph(item("口罩；", 1))
        .add_paragraph(item("服务记录单。", 0))
        .add_paragraph(para("上门前应检查以下事项："))
        .add_paragraph(bullet("工具齐全；"))
        .add_paragraph(bullet("证件齐全。"))
        .add_paragraph(styled("Heading2", "4.3 用时"))
        .add_paragraph(para("各服务项目的标准用时见表1。"))
        .add_paragraph(para("表1 服务项目标准用时"))
        .add_table(Table::new(vec![
            TableRow::new(vec![cell("服务项目"), cell("标准用时")]),
            TableRow::new(vec![cell("日常保洁"), cell("2 h")]),
            TableRow::new(vec![cell("深度保洁|厨房"), cell("4 h")]),
        ]))
        .add_paragraph(styled("Heading1", "附录A"))
        .add_paragraph(para("（资料性）"))
        .add_paragraph(para("服务记录单示例"))
        .add_paragraph(styled("Heading2", "服务记录单栏目"))
        .add_paragraph(para("服务记录单包括客户姓名、服务项目和服务时长。"));
    pack(doc)
}

#[test]
fn a_hand_numbered_word_file_becomes_a_clean_draft() {
    let bytes = typed_numbers();
    if let Ok(dir) = std::env::var("BZ_KEEP_DOCX") {
        std::fs::write(format!("{dir}/typed-numbers.docx"), &bytes).unwrap();
    }
    let got = import(&bytes, &OPTS).unwrap();
    let md = &got.markdown;
    assert_eq!(
        got.title, "家政服务上门作业规范",
        "the cover's title, not its code"
    );
    for expected in [
        "code: Q/BZ 003—2026",
        "category: 服务提供标准/服务提供规范",
        "## 前言",
        "## 1 范围",
        "### 4.1 到达",
        "#### 4.1.1\n\n家政服务人员应在预约时间前10 min到达客户家中。",
        "家政服务人员应携带以下工具：\n\na) 清洁工具；\nb) 防护用品：\n   1) 手套；\n   2) 口罩；\nc) 服务记录单。",
        "——工具齐全；\n——证件齐全。",
        "| 服务项目 | 标准用时 |\n| --- | --- |\n| 日常保洁 | 2 h |\n| 深度保洁\\|厨房 | 4 h |",
        "## 附录A（资料性）服务记录单示例",
        "### A.1 服务记录单栏目",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in\n{md}");
    }
    assert!(!md.contains("Q/BZ 003—2025"), "the cover is not body text");
    assert!(
        got.warnings.iter().any(|w| w.contains("2025-06-01发布")),
        "dropped cover lines are reported: {:?}",
        got.warnings
    );

    // The draft is a standard our parser and lint accept without errors, with the
    // provisions typed by their verbal forms.
    let coll = Collection::from_sources(&[("imported.md".into(), md.clone())]);
    let errors: Vec<_> = coll.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{md}");
    let std = &coll.standards[0];
    let numbers: Vec<&str> = std
        .all_clauses()
        .iter()
        .map(|c| c.number.as_str())
        .collect();
    for n in ["1", "4.1", "4.1.1", "4.1.2", "4.2", "4.3", "A.1"] {
        assert!(numbers.contains(&n), "clause {n} in {numbers:?}");
    }
    let c411 = std
        .all_clauses()
        .into_iter()
        .find(|c| c.number == "4.1.1")
        .unwrap();
    assert_eq!(c411.provisions[0].kind.as_str(), "requirement");
    let c412 = std
        .all_clauses()
        .into_iter()
        .find(|c| c.number == "4.1.2")
        .unwrap();
    assert_eq!(c412.provisions[0].kind.as_str(), "recommendation");
}

/// Chinese Word: heading styles have ids `1`, `2`, `3` and the numbers are Word's
/// automatic numbering, not text.
#[test]
fn chinese_word_auto_numbered_headings_are_numbered_by_level() {
    let doc = heading_styles(Docx::new(), ["1", "2", "3"])
        .add_paragraph(para("保洁服务质量检查规范"))
        .add_paragraph(styled("1", "范围"))
        .add_paragraph(para("本文件规定了保洁服务质量检查的要求。"))
        .add_paragraph(styled("1", "规范性引用文件"))
        .add_paragraph(para("本文件没有规范性引用文件。"))
        .add_paragraph(styled("1", "术语和定义"))
        .add_paragraph(para("本文件没有需要界定的术语和定义。"))
        .add_paragraph(styled("1", "检查要求"))
        .add_paragraph(styled("2", "检查频次"))
        .add_paragraph(styled("3", "日常检查"))
        .add_paragraph(para("质检员应每周抽查不少于10单。"))
        .add_paragraph(styled("3", "专项检查"))
        .add_paragraph(para("投诉集中的服务项目可开展专项检查。"))
        .add_paragraph(styled("2", "检查记录"))
        .add_paragraph(para("检查结果应记入平台。"));
    let got = import(&pack(doc), &OPTS).unwrap();
    let md = &got.markdown;
    for expected in [
        "title: 保洁服务质量检查规范",
        "## 1 范围",
        "## 4 检查要求",
        "### 4.1 检查频次",
        "#### 4.1.1 日常检查",
        "#### 4.1.2 专项检查",
        "### 4.2 检查记录",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in\n{md}");
    }
    let coll = Collection::from_sources(&[("imported.md".into(), md.clone())]);
    assert!(
        coll.diagnostics.iter().all(|d| !d.is_error()),
        "{:#?}",
        coll.diagnostics
    );
}

#[test]
fn files_that_are_not_word_documents_get_a_clear_error() {
    // A zip without word/document.xml (an .xlsx renamed, say).
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(
            "xl/workbook.xml",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        std::io::Write::write_all(&mut z, b"<workbook/>").unwrap();
        z.finish().unwrap();
    }
    let e = import(buf.get_ref(), &OPTS).unwrap_err();
    assert!(e.to_string().contains("word/document.xml"), "{e}");
    // A .doc (OLE) or anything else.
    let e = import(b"\xd0\xcf\x11\xe0 an old .doc", &OPTS).unwrap_err();
    assert!(e.to_string().contains(".docx"), "{e}");
    // Broken XML inside a real package says which part and where.
    let mut bytes = typed_numbers();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&mut bytes)).unwrap();
    let mut doc = String::new();
    std::io::Read::read_to_string(&mut z.by_name("word/document.xml").unwrap(), &mut doc).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        w.start_file(
            "word/document.xml",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        std::io::Write::write_all(&mut w, doc.replacen("</w:p>", "</w:q>", 1).as_bytes()).unwrap();
        w.finish().unwrap();
    }
    let e = import(out.get_ref(), &OPTS).unwrap_err();
    assert!(
        e.to_string().contains("word/document.xml") && e.to_string().contains("字节"),
        "{e}"
    );
}

/// A package holding only `word/document.xml` with `body` inside `<w:body>`.
fn document(body: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(
            "word/document.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        write!(
            z,
            "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        )
        .unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn heading_then(paragraph: &str, n: usize) -> String {
    let mut body =
        "<w:p><w:pPr><w:outlineLvl w:val=\"0\"/></w:pPr><w:r><w:t>1 范围</w:t></w:r></w:p>"
            .to_string();
    body.push_str(&paragraph.repeat(n));
    body
}

use std::io::Write as _;

/// A small .docx whose `document.xml` inflates past the part limit (the issue's
/// 184 KB file held 63 MB) is refused, naming the part, before it is read.
#[test]
fn a_word_file_that_inflates_past_the_limit_is_refused() {
    let p = "<w:p><w:r><w:t>家政服务人员应持证上岗。</w:t></w:r></w:p>";
    let bytes = document(&heading_then(p, 17 << 20 >> 6));
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let started = std::time::Instant::now();
    let e = import(&bytes, &OPTS).unwrap_err().to_string();
    assert!(
        e.starts_with("Word 文档中的 word/document.xml 解压后超过 16 MiB 的上限"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// What comes back is bounded too: a draft over 1 MiB is refused (the editor
/// could neither preview nor save it), past 200 warnings they are counted, and a
/// body of more than 100,000 paragraphs is refused.
#[test]
fn what_a_word_import_returns_is_bounded() {
    let p = "<w:p><w:r><w:t>家政服务人员应持证上岗，服务前应出示安心码并请客户扫码核验。</w:t></w:r></w:p>";
    let e = import(&document(&heading_then(p, 12_000)), &OPTS)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("转换后的草稿有 1.1 MiB，超过 1 MiB 的上限"),
        "{e}"
    );
    let picture = "<w:p><w:r><w:drawing/></w:r></w:p>";
    let got = import(&document(&heading_then(picture, 1_000)), &OPTS).unwrap();
    assert_eq!(got.warnings.len(), 201);
    assert_eq!(got.warnings[0], "第 2 段：1 个图片或对象未导入");
    assert_eq!(got.warnings[200], "……另有 800 条提示未列出（共 1000 条）");
    let e = import(&document(&"<w:p></w:p>".repeat(100_001)), &OPTS)
        .unwrap_err()
        .to_string();
    assert!(e.contains("100000 个以上的段落"), "{e}");
}
