//! Parse + lint throughput on a generated corpus of 1,000 standards.
//!
//! `cargo bench --bench parse_lint` prints figures (recorded in BENCHMARKS.md). A bench
//! binary rather than criterion: one pass over a large corpus is the number that matters
//! (how long `biaozhun check` takes on a big library), and it keeps the build small.

use std::time::Instant;

use biaozhun::standard::{Classifier, Collection, synth};

fn main() {
    let standards: usize = std::env::var("BENCH_STANDARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let t = Instant::now();
    let _ = Classifier::global().classify("预热");
    let init = t.elapsed();

    let sources: Vec<(String, String)> = (0..standards)
        .map(|i| (format!("gen/{i:04}.md"), synth::standard(i, 6, 8)))
        .collect();
    let bytes: usize = sources.iter().map(|s| s.1.len()).sum();

    let mut best = f64::MAX;
    let mut clauses = 0;
    let mut provisions = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let coll = Collection::from_sources(&sources);
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(coll.error_count(), 0, "generated corpus must be clean");
        clauses = coll.standards.iter().map(|s| s.clause_count()).sum();
        provisions = coll.standards.iter().map(|s| s.provisions().count()).sum();
        best = best.min(secs);
    }
    println!(
        "corpus: {standards} standards, {clauses} clauses, {provisions} provisions, {:.1} MB",
        bytes as f64 / 1e6
    );
    println!(
        "classifier init (jieba dictionary): {:.0} ms",
        init.as_secs_f64() * 1e3
    );
    println!("parse+lint (best of 3): {:.3} s", best);
    println!("  {:.0} clauses/s", clauses as f64 / best);
    println!("  {:.0} provisions/s", provisions as f64 / best);
    println!("  {:.1} MB/s", bytes as f64 / 1e6 / best);

    let sentences: Vec<&str> = sources[0].1.lines().filter(|l| l.contains('。')).collect();
    let c = Classifier::global();
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < 1.0 {
        for s in &sentences {
            std::hint::black_box(c.classify(s));
            n += 1;
        }
    }
    println!(
        "classifier alone: {:.0} paragraphs/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
}
