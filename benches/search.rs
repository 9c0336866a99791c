//! Search at scale: 1,000,000 clauses built from the real standards' vocabulary.
//!
//! `cargo bench --bench search` prints index build throughput, index size and query
//! latency (p50/p99 over 1,000 mixed queries), side by side with SQLite FTS5 trigram.
//! Env: BENCH_CLAUSES (default 1000000), BENCH_BASELINE_QUERIES (default 200: the
//! baseline's LIKE scans are slow), BENCH_DIR (default a temp dir).

use std::path::{Path, PathBuf};
use std::time::Instant;

use biaozhun::search::SearchIndex;
use biaozhun::search::baseline::Fts5Baseline;
use biaozhun::standard::Collection;

/// A tiny deterministic PRNG (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let target: usize = std::env::var("BENCH_CLAUSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let baseline_queries: usize = std::env::var("BENCH_BASELINE_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("biaozhun-search-bench-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("mkdir");

    // Vocabulary: the real standards' sentences and clause titles.
    let real = Collection::load(&[root.join("standards")], &[]).expect("standards");
    let sentences: Vec<String> = real
        .standards
        .iter()
        .flat_map(|s| s.provisions().map(|p| p.text.clone()).collect::<Vec<_>>())
        .filter(|t| t.chars().count() > 8)
        .collect();
    let titles: Vec<String> = real
        .standards
        .iter()
        .flat_map(|s| {
            s.all_clauses()
                .into_iter()
                .filter_map(|c| c.title.clone())
                .collect::<Vec<_>>()
        })
        .collect();

    // Generated standards: 1,000 clauses each, 20 chapters × 50 clauses.
    let t = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let per = 1000usize;
    let n_std = target.div_ceil(per);
    let mut sources = Vec::with_capacity(n_std);
    let mut rows: Vec<(String, String, String)> = Vec::with_capacity(target);
    for i in 0..n_std {
        let year = 2015 + (i % 11);
        let code = format!("Q/BZ {:05}—{year}", i);
        let mut doc = format!(
            "---\ncode: {code}\ntitle: 生成标准{i}\nkind: enterprise\nstatus: current\nsource: reconstructed\n---\n\n## 1 范围\n\n本文件规定了要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n"
        );
        for ch in 0..per / 50 {
            doc.push_str(&format!("## {} 章\n\n", ch + 4));
            for cl in 1..=50 {
                let title = rng.pick(&titles).clone();
                let k = 1 + (rng.next() % 3) as usize;
                let mut text = String::new();
                for _ in 0..k {
                    // Vary the numbers so clauses are not identical.
                    let s = rng.pick(&sentences).clone();
                    let n = (rng.next() % 90 + 1).to_string();
                    text.push_str(&s.replacen(|c: char| c.is_ascii_digit(), &n, 1));
                }
                rows.push((
                    format!("{code}#{}.{cl}", ch + 4),
                    title.clone(),
                    text.clone(),
                ));
                doc.push_str(&format!("### {}.{cl} {title}\n\n{text}\n\n", ch + 4));
            }
        }
        sources.push((format!("gen/{i}.md"), doc));
    }
    let coll = Collection::from_sources(&sources);
    drop(sources);
    let clauses: usize = coll.standards.iter().map(|s| s.clause_count()).sum();
    println!(
        "corpus: {} standards, {clauses} clauses ({} of text rows), generated+parsed in {:.1} s",
        coll.standards.len(),
        rows.len(),
        t.elapsed().as_secs_f64()
    );

    // tantivy + jieba
    let ix_dir = work.join("index");
    let t = Instant::now();
    let ix = SearchIndex::rebuild(&ix_dir, &coll, "bench").expect("index");
    let build = t.elapsed().as_secs_f64();
    println!(
        "biaozhun index: {:.1} s, {:.0} clauses/s ({} documents incl. provisions), {:.0} MB",
        build,
        rows.len() as f64 / build,
        ix.doc_count(),
        dir_size(&ix_dir) as f64 / 1e6
    );

    // Queries: the labelled set's queries, single vocabulary words, and filtered ones.
    let eval = std::fs::read_to_string(root.join("tests/data/search_eval.tsv")).expect("eval");
    let mut queries: Vec<String> = eval
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect();
    let words: Vec<String> = titles
        .iter()
        .filter(|t| t.chars().count() >= 2 && t.chars().count() <= 6)
        .cloned()
        .collect();
    while queries.len() < 1000 {
        let q = match rng.next() % 4 {
            0 => rng.pick(&words).clone(),
            1 => format!("{} {}", rng.pick(&words), rng.pick(&words)),
            2 => format!("{} type:requirement", rng.pick(&words)),
            _ => format!("{} year:{}", rng.pick(&words), 2015 + rng.next() % 11),
        };
        queries.push(q);
    }
    queries.truncate(1000);
    let mut lat = Vec::with_capacity(queries.len());
    let mut slow: Vec<(f64, &String)> = Vec::new();
    let mut found = 0usize;
    for q in &queries {
        let t = Instant::now();
        let r = ix.search(q, 10).expect("search");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        lat.push(ms);
        slow.push((ms, q));
        found += usize::from(!r.hits.is_empty());
    }
    lat.sort_by(f64::total_cmp);
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "slowest: {:?}",
        slow.iter()
            .take(8)
            .map(|(ms, q)| format!("{q} {ms:.1}ms"))
            .collect::<Vec<_>>()
    );
    println!(
        "biaozhun query latency (top 10, {} queries, {} with hits): p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        found,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    drop(ix);
    drop(coll);
    if std::env::var_os("BENCH_SKIP_BASELINE").is_some() {
        let _ = std::fs::remove_dir_all(&work);
        return;
    }

    // SQLite FTS5 trigram on the same clauses.
    let db = work.join("fts5.db");
    let t = Instant::now();
    let base = Fts5Baseline::build_rows(rows.into_iter(), Some(&db)).expect("fts5");
    let build = t.elapsed().as_secs_f64();
    println!(
        "fts5 trigram index: {:.1} s, {:.0} clauses/s, {:.0} MB",
        build,
        target as f64 / build,
        std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    let plain: Vec<&String> = queries
        .iter()
        .filter(|q| !q.contains(':'))
        .take(baseline_queries)
        .collect();
    let mut lat = Vec::new();
    for q in &plain {
        let t = Instant::now();
        base.search(q, 10).expect("fts5 search");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "fts5 trigram query latency (top 10, {} queries without filters): p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    let _ = std::fs::remove_dir_all(&work);
}
