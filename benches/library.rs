//! History and diff on a library where one standard has 500 revisions.
//!
//! `cargo bench --bench library` prints figures (recorded in BENCHMARKS.md).

use std::time::Instant;

use biaozhun::library::{Author, Library, PublishRequest, diff};

const CHAPTERS: usize = 10;
const CLAUSES: usize = 10;

fn document(texts: &[String]) -> String {
    let mut s = String::from(
        "---\ncode: Q/BZ 500—2025\ntitle: 五百次修订的基准标准\nkind: enterprise\nstatus: current\nsource: reconstructed\n---\n\n## 1 范围\n\n本文件用于基准测试。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n",
    );
    for ch in 0..CHAPTERS {
        s.push_str(&format!("## {} 章{}\n\n", ch + 4, ch + 4));
        for cl in 0..CLAUSES {
            s.push_str(&format!(
                "### {}.{} 条{}\n\n{}\n\n",
                ch + 4,
                cl + 1,
                cl + 1,
                texts[ch * CLAUSES + cl]
            ));
        }
    }
    s
}

fn main() {
    let revisions: usize = std::env::var("BENCH_REVISIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile_dir();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let mut texts: Vec<String> = (0..CHAPTERS * CLAUSES)
        .map(|i| format!("订单应在{}分钟内受理，记录宜保存{}年。", i + 10, i % 5 + 1))
        .collect();
    std::fs::write(src.join("q-bz-500-2025.md"), document(&texts)).expect("write");
    let author = Author::new("基准", "bench@example.com");
    let lib = Library::init(&dir.join("lib"), &src, &author, Some(1_700_000_000)).expect("init");

    let t = Instant::now();
    for r in 1..revisions {
        let k = (r * 7) % texts.len();
        texts[k] = format!(
            "订单应在{}分钟内受理，第{r}次修订后记录应保存{}年。",
            k + 10,
            r % 5 + 1
        );
        let req = PublishRequest {
            text: document(&texts),
            author: author.clone(),
            message: format!("修订{r}"),
            submission: None,
            when: Some(1_700_000_000 + r as i64 * 3600),
        };
        lib.publish(&req).expect("publish");
    }
    let publish = t.elapsed().as_secs_f64();
    println!(
        "standard: {} clauses; {revisions} revisions",
        CHAPTERS * CLAUSES + 3 + CHAPTERS
    );
    println!(
        "publish (check + write + commit), mean: {:.1} ms",
        publish * 1e3 / (revisions - 1) as f64
    );

    let t = Instant::now();
    let h = lib.history("Q/BZ 500—2025").expect("history");
    println!(
        "history of the standard ({} entries): {:.0} ms",
        h.len(),
        t.elapsed().as_secs_f64() * 1e3
    );

    let t = Instant::now();
    let ch = lib
        .clause_history("Q/BZ 500—2025", "4.1")
        .expect("clause history");
    println!(
        "history of clause 4.1 ({} changes over {revisions} revisions): {:.0} ms",
        ch.revisions.len(),
        t.elapsed().as_secs_f64() * 1e3
    );

    let first = &h[h.len() - 1].revision.id;
    let t = Instant::now();
    let (old, _) = lib.read("Q/BZ 500—2025", first).expect("old");
    let (new, _) = lib.read("Q/BZ 500—2025", "HEAD").expect("new");
    let read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let d = diff::diff(&old, &new, "first", "last");
    println!(
        "read two revisions: {:.0} ms; clause diff first→last ({} changes): {:.1} ms",
        read * 1e3,
        d.changes.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("biaozhun-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}
