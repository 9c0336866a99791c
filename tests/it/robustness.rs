//! Bad and huge input: clear diagnostics with positions, never a panic.
//! The long fuzz run is `PROPTEST_CASES=… cargo test --release --test it fuzz_` (see
//! BENCHMARKS.md for the last run); CI runs the default case count.

use biaozhun::diag::LineIndex;
use biaozhun::standard::parse::{self, parse_str};
use biaozhun::standard::{Collection, lint, synth};
use proptest::prelude::*;

const HEAD: &str = "---\ncode: Q/BZ 900—2025\ntitle: 压力测试\nkind: enterprise\nstatus: current\nsource: reconstructed\n---\n";

/// Parses and lints, asserting that every diagnostic points inside the text.
fn parse_and_lint(text: &str) -> usize {
    let parsed = parse_str(text, "fuzz.md");
    let lines = LineIndex::new(&parse::normalize_newlines(text)).line_count();
    let mut diags = parsed.diagnostics;
    if let Some(s) = &parsed.standard {
        diags.extend(lint::lint(s));
    }
    for d in &diags {
        assert!(
            d.line >= 1 && d.line <= lines + 1,
            "{d} outside {lines} lines"
        );
        assert!(d.col >= 1, "{d}");
    }
    diags.len()
}

#[test]
fn a_file_with_100k_clauses_parses() {
    let mut text = String::from(HEAD);
    text.push_str("## 1 范围\n\n本文件规定了要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n");
    let mut n = 0;
    'outer: for ch in 4.. {
        text.push_str(&format!("## {ch} 章\n\n"));
        n += 1;
        for cl in 1..=1000 {
            text.push_str(&format!("### {ch}.{cl}\n\n记录第{cl}条。\n\n"));
            n += 1;
            if n >= 100_000 {
                break 'outer;
            }
        }
    }
    let parsed = parse_str(&text, "big.md");
    let s = parsed.standard.expect("parsed");
    assert!(s.clause_count() >= 100_000, "{}", s.clause_count());
    assert!(lint::lint(&s).is_empty());
}

#[test]
fn a_10_mb_file_parses_with_positions() {
    let mut text = synth::standard(7, 40, 40);
    let unit = "### 4.1 重复\n\n家政服务记录保存在平台中，订单编号唯一。\n\n";
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(unit);
    }
    let parsed = parse_str(&text, "ten.md");
    let s = parsed.standard.expect("parsed");
    let diags = lint::lint(&s);
    // The repeated 4.1 headings sit under the last chapter (43): each is reported with its own line.
    let dups: Vec<_> = diags.iter().filter(|d| d.code == "clause-parent").collect();
    assert!(dups.len() > 10_000, "{}", dups.len());
    assert!(dups.windows(2).all(|w| w[0].line < w[1].line));
}

#[test]
fn oversized_file_is_refused_with_a_diagnostic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("huge.md");
    let file = std::fs::File::create(&f).expect("create");
    file.set_len(parse::MAX_FILE_BYTES + 1)
        .expect("sparse file");
    let p = parse::parse_file(&f, "huge.md");
    assert!(p.standard.is_none());
    assert_eq!(p.diagnostics[0].code, "file-too-large");
}

#[test]
fn unreadable_path_is_an_io_diagnostic() {
    let p = parse::parse_file(std::path::Path::new("/nonexistent/x.md"), "x.md");
    assert_eq!(p.diagnostics[0].code, "io");
}

#[test]
fn pathological_nesting_does_not_overflow() {
    let deep_heading = format!("{HEAD}## {}\n\n文字。\n", vec!["1"; 20_000].join("."));
    parse_and_lint(&deep_heading);
    let chain: String = (1..=3000)
        .map(|d| format!("{} {}\n\n", "#".repeat(2), vec!["1"; d].join(".")))
        .collect();
    parse_and_lint(&format!("{HEAD}{chain}"));
    let quotes = format!("{HEAD}## 1 范围\n\n{}应记录。\n", ">".repeat(50_000));
    parse_and_lint(&quotes);
    let lists = format!(
        "{HEAD}## 1 范围\n\n{}",
        (0..2000)
            .map(|i| format!("{}- 应记录\n", "  ".repeat(i)))
            .collect::<String>()
    );
    parse_and_lint(&lists);
}

#[test]
fn odd_but_valid_inputs() {
    // BOM, CRLF line endings, a front matter closed with `...`, tabs, full-width spaces.
    let text = "\u{FEFF}---\r\ncode: Q/BZ 901-2025\r\ntitle: 换行\r\nkind: enterprise\r\nstatus: current\r\nsource: reconstructed\r\n...\r\n## 1\u{3000}范围\r\n\r\n本文件应适用。\r\n";
    let p = parse_str(text, "crlf.md");
    let s = p.standard.unwrap_or_else(|| panic!("{:#?}", p.diagnostics));
    assert_eq!(s.code.to_string(), "Q/BZ 901—2025");
    assert_eq!(
        s.clause("1").and_then(|c| c.title.clone()).as_deref(),
        Some("范围")
    );
}

#[test]
fn generated_corpus_loads_through_collection() {
    let sources: Vec<(String, String)> = (0..20)
        .map(|i| (format!("g{i}.md"), synth::standard(i, 2, 3)))
        .collect();
    let coll = Collection::from_sources(&sources);
    assert_eq!(coll.standards.len(), 20);
    assert_eq!(coll.error_count(), 0);
}

/// Markdown-ish fragments that stress the parser's GB/T 1.1 layer.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("## 前言\n".to_string()),
        Just("## 附录A（规范性）附录\n".to_string()),
        Just("### A.1 条\n".to_string()),
        (1u32..12, 0u32..12, 0u32..4).prop_map(|(a, b, c)| format!(
            "{} {a}.{b}.{c} 标题\n",
            "#".repeat((c % 4 + 2) as usize)
        )),
        (1u32..12).prop_map(|a| format!("## {a} 章\n")),
        Just("a) 应登记；\n".to_string()),
        Just("   1) 可抽查；\n".to_string()),
        Just("——不应派单。\n".to_string()),
        Just("注1：本条应可追溯。\n".to_string()),
        Just("示例：红码。\n".to_string()),
        Just("表1 订单\n\n| a | b |\n|---|---|\n| 1 | 2 |\n".to_string()),
        Just("见5.3和表9，附录Z。\n".to_string()),
        Just("应符合GB/T 22239—2019的8.1。\n".to_string()),
        Just("\n".to_string()),
        Just("```\n代码\n".to_string()),
        Just("> 引用应\n".to_string()),
        Just("[来源：x]\n".to_string()),
        "[^\u{0}]{0,40}".prop_map(|s| s),
        "[应宜可能须必不得许：；。\\n#\\- a)1\\.]{0,30}".prop_map(|s| s),
    ]
}

fn document() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(HEAD.to_string()),
            Just("---\ncode: [\n---\n".to_string()),
            Just("---\ncode: T/ZTAC 1\ntitle: 1\nkind: local\nstatus: draft\nsource: official\nreplaces: 3\n---\n".to_string()),
            Just(String::new()),
            "---\n[^\u{0}]{0,60}\n---\n".prop_map(|s| s),
        ],
        prop::collection::vec(fragment(), 0..40),
    )
        .prop_map(|(head, body)| format!("{head}{}", body.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_parser_never_panics(doc in document()) {
        parse_and_lint(&doc);
    }

    #[test]
    fn fuzz_arbitrary_text_never_panics(text in "\\PC{0,400}") {
        parse_and_lint(&text);
        let c = biaozhun::standard::Classifier::global();
        for r in biaozhun::standard::provision::split_sentences(&text, true) {
            let cl = c.classify(&text[r.clone()]);
            if let Some(t) = &cl.trigger {
                prop_assert!(text[r].contains(t.as_str()));
            }
        }
    }
}
