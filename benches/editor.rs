//! The submission editor's costs: what one keystroke (after the debounce) costs the
//! server — lint plus the preview rendered by the standard page's templates — for
//! the shipped standards and a 1,000-clause document; and Word import throughput on
//! a generated 1,000-clause .docx.
//!
//! `cargo bench --bench editor` prints figures (recorded in BENCHMARKS.md).

use std::time::{Duration, Instant};

use askama::Template;
use biaozhun::standard::Collection;
use biaozhun::standard::docx::{Options, import};
use biaozhun::web::pages::Preview;

/// lint + preview of `text`, as `POST /api/v1/preview` does it.
fn preview(text: &str) -> usize {
    let coll = Collection::from_sources(&[("draft.md".into(), text.to_string())]);
    let html = coll
        .standards
        .first()
        .and_then(|s| Preview::of(s, Default::default()).render().ok())
        .unwrap_or_default();
    html.len() + coll.diagnostics.len()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn measure(name: &str, text: &str, runs: usize) {
    std::hint::black_box(preview(text)); // warm the classifier
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(preview(text));
            t.elapsed()
        })
        .collect();
    times.sort();
    let clauses = Collection::from_sources(&[("x.md".into(), text.to_string())])
        .standards
        .first()
        .map(|s| s.clause_count())
        .unwrap_or(0);
    println!(
        "preview {name:<28} {:>6} KB {clauses:>5} clauses  p50 {:>7.2} ms  p99 {:>7.2} ms",
        text.len() / 1024,
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
    );
}

fn big_markdown(chapters: usize, per: usize) -> String {
    let mut s = String::from(
        "---\ncode: Q/BZ 900—2026\ntitle: 千条款基准标准\nkind: enterprise\nstatus: current\nsource: official\n---\n\n## 1 范围\n\n本文件用于基准测试。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n",
    );
    for ch in 0..chapters {
        s.push_str(&format!("## {} 章{}\n\n", ch + 4, ch + 4));
        for cl in 0..per {
            s.push_str(&format!(
                "### {}.{} 条{}\n\n家政服务人员应在{}分钟内响应，记录宜保存{}年。\n\n",
                ch + 4,
                cl + 1,
                cl + 1,
                cl + 10,
                cl % 5 + 1
            ));
        }
    }
    s
}

fn big_docx(chapters: usize, per: usize) -> Vec<u8> {
    use docx_rs::{Docx, Paragraph, Run, Style, StyleType};
    let p = |t: &str| Paragraph::new().add_run(Run::new().add_text(t));
    let mut doc = Docx::new();
    for l in 1..=2 {
        doc = doc.add_style(
            Style::new(l.to_string(), StyleType::Paragraph).name(format!("heading {l}")),
        );
    }
    doc = doc.add_paragraph(p("千条款基准标准"));
    for (t, body) in [
        ("范围", "本文件用于基准测试。"),
        ("规范性引用文件", "本文件没有规范性引用文件。"),
        ("术语和定义", "本文件没有需要界定的术语和定义。"),
    ] {
        doc = doc.add_paragraph(p(t).style("1")).add_paragraph(p(body));
    }
    for ch in 0..chapters {
        doc = doc.add_paragraph(p(&format!("章{}", ch + 4)).style("1"));
        for cl in 0..per {
            doc = doc
                .add_paragraph(p(&format!("条{}", cl + 1)).style("2"))
                .add_paragraph(p(&format!(
                    "家政服务人员应在{}分钟内响应，记录宜保存{}年。",
                    cl + 10,
                    cl % 5 + 1
                )));
        }
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.build().pack(&mut buf).expect("pack");
    buf.into_inner()
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("standards");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("standards/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        measure(
            &f.file_name().unwrap_or_default().to_string_lossy(),
            &text,
            200,
        );
    }
    measure("generated 1,000 clauses", &big_markdown(20, 50), 50);

    let bytes = big_docx(20, 50);
    let opts = Options {
        code: "Q/BZ 900—2026",
        title: "",
        category: "",
    };
    let got = import(&bytes, &opts).expect("import");
    let runs = 20;
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(import(&bytes, &opts).expect("import"));
    }
    let each = t.elapsed() / runs;
    println!(
        "docx import  {} KB .docx → {} KB Markdown, {} clauses: {:.1} ms per file",
        bytes.len() / 1024,
        got.markdown.len() / 1024,
        Collection::from_sources(&[("x.md".into(), got.markdown.clone())])
            .standards
            .first()
            .map(|s| s.clause_count())
            .unwrap_or(0),
        each.as_secs_f64() * 1e3
    );
}
