//! Search over the shipped standards: traps, filters, snippets, freshness, bad input,
//! and relevance on the labelled query set.

use std::path::PathBuf;

use biaozhun::search::{SearchIndex, eval};
use biaozhun::standard::Collection;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn standards() -> Collection {
    Collection::load(&[root().join("standards")], &[]).expect("load")
}

fn index(dir: &std::path::Path) -> SearchIndex {
    SearchIndex::open(&dir.join("ix"), "test", standards).expect("index")
}

fn ids(ix: &SearchIndex, q: &str) -> Vec<String> {
    ix.search(q, 10)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.clause_id)
        .collect()
}

#[test]
fn relevance_on_the_labelled_query_set() {
    let dir = tempfile::tempdir().expect("tmp");
    let ix = index(dir.path());
    let set = eval::load(
        &std::fs::read_to_string(root().join("tests/data/search_eval.tsv")).expect("eval set"),
    );
    assert!(set.len() >= 40);
    let (scores, per) = eval::evaluate(&set, |q| ids(&ix, q));
    let mut worst: Vec<_> = per.iter().filter(|p| p.1 < 0.5).collect();
    worst.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!(
        "biaozhun: nDCG@10 {:.3}, recall@10 {:.3} over {} queries; weakest: {:?}",
        scores.ndcg10, scores.recall10, scores.queries, worst
    );
    assert!(
        scores.ndcg10 >= 0.85,
        "nDCG@10 {:.3} below 0.85; weakest: {worst:?}",
        scores.ndcg10
    );

    // The baseline, same clauses, same queries, same run.
    let base = biaozhun::search::baseline::Fts5Baseline::build(&standards(), None).expect("fts5");
    let (b, _) = eval::evaluate(&set, |q| base.search(q, 10).expect("fts5 search"));
    println!(
        "FTS5 trigram baseline: nDCG@10 {:.3}, recall@10 {:.3}",
        b.ndcg10, b.recall10
    );
    assert!(
        scores.ndcg10 > b.ndcg10 && scores.recall10 > b.recall10,
        "not better than the baseline: {scores:?} vs {b:?}"
    );
}

#[test]
fn relevance_on_the_held_out_query_set() {
    // Written separately, after the engine was tuned on search_eval.tsv: a measure of how
    // the tuning generalises. The bar is the baseline, not 0.85.
    let dir = tempfile::tempdir().expect("tmp");
    let ix = index(dir.path());
    let set = eval::load(
        &std::fs::read_to_string(root().join("tests/data/search_eval_holdout.tsv"))
            .expect("holdout set"),
    );
    assert!(set.len() >= 40);
    let (scores, per) = eval::evaluate(&set, |q| ids(&ix, q));
    let base = biaozhun::search::baseline::Fts5Baseline::build(&standards(), None).expect("fts5");
    let (b, _) = eval::evaluate(&set, |q| base.search(q, 10).expect("fts5 search"));
    let worst: Vec<_> = per.iter().filter(|p| p.1 < 0.5).collect();
    println!(
        "held-out: biaozhun nDCG@10 {:.3} recall@10 {:.3}; FTS5 trigram nDCG@10 {:.3} recall@10 {:.3}; weakest {worst:?}",
        scores.ndcg10, scores.recall10, b.ndcg10, b.recall10
    );
    assert!(scores.ndcg10 > b.ndcg10, "{scores:?} vs {b:?}");
}

#[test]
fn trap_queries() {
    let dir = tempfile::tempdir().expect("tmp");
    let ix = index(dir.path());
    // 应急 must not match clauses merely containing 应.
    let r = ix.search("应急", 50).expect("search");
    assert!(!r.hits.is_empty());
    for h in &r.hits {
        assert!(
            h.snippet.contains("应急") || h.title.contains("应急"),
            "{} matched 应急 without the word: {}",
            h.id,
            h.snippet
        );
    }
    // 可视化 finds the cockpit (驾驶舱) clause.
    let r = ix.search("可视化", 10).expect("search");
    assert!(
        r.hits
            .iter()
            .take(3)
            .any(|h| h.breadcrumb.contains("驾驶舱")),
        "{:#?}",
        r.hits.iter().map(|h| &h.breadcrumb).collect::<Vec<_>>()
    );
    // Search-mode segmentation: a part of a compound finds the compound
    // (人员 → 家政服务人员, 家政 → 家政服务机构).
    let r = ix.search("人员", 50).expect("search");
    assert!(r.hits.iter().any(|h| h.snippet.contains("家政服务人员")));
    let r = ix.search("家政", 50).expect("search");
    assert!(r.hits.iter().any(|h| h.snippet.contains("家政服务机构")));
    // Dash and width variants of a code find the same clauses.
    let a = ids(&ix, "T/ZTAC 001.2-2023");
    let b = ids(&ix, "Ｔ／ＺＴＡＣ 001.2—2023");
    assert!(!a.is_empty());
    assert_eq!(a, b);
    // Numbers and Latin tokens.
    assert!(!ix.search("GB/T 22239", 5).expect("search").hits.is_empty());
    assert!(!ix.search("48h", 5).expect("search").hits.is_empty());
}

#[test]
fn filters_restrict_results() {
    let dir = tempfile::tempdir().expect("tmp");
    let ix = index(dir.path());
    let r = ix.search("投诉 std:T/ZTAC 002-2023", 50).expect("search");
    assert!(!r.hits.is_empty() && r.hits.iter().all(|h| h.code == "T/ZTAC 002—2023"));
    let r = ix.search("投诉 std:DB3301/T", 50).expect("search");
    assert!(!r.hits.is_empty() && r.hits.iter().all(|h| h.code.starts_with("DB3301/T")));
    let r = ix.search("投诉 kind:local", 50).expect("search");
    assert!(r.hits.iter().all(|h| h.code.starts_with("DB3301")));
    let r = ix.search("投诉 year:2024", 50).expect("search");
    assert!(!r.hits.is_empty() && r.hits.iter().all(|h| h.code.ends_with("2024")));
    let r = ix.search("投诉 year:2020-2023", 50).expect("search");
    assert!(!r.hits.is_empty() && r.hits.iter().all(|h| h.code.ends_with("2023")));
    // type: answers with provisions of that type.
    let r = ix.search("投诉 type:应", 50).expect("search");
    assert!(!r.hits.is_empty());
    for h in &r.hits {
        assert_eq!(h.doc_type, "provision");
        assert_eq!(h.types, ["requirement"]);
        assert!(h.id.starts_with(&h.clause_id) && h.id.contains("/p"));
    }
    let r = ix
        .search("type:宜 std:T/ZTAC 002-2023", 100)
        .expect("search");
    assert!(!r.hits.is_empty() && r.hits.iter().all(|h| h.types == ["recommendation"]));
    let r = ix
        .search("安心码 category:服务提供标准", 50)
        .expect("search");
    assert!(!r.hits.is_empty());
    let r = ix.search("安心码 status:superseded", 50).expect("search");
    assert_eq!(r.total, 0);
    // Exclusion and phrases.
    let with = ids(&ix, "派单");
    let without = ix.search("派单 -红码", 100).expect("search");
    assert!(without.hits.iter().all(|h| !h.snippet.contains("红码")));
    assert!(with.len() >= without.hits.len().min(10));
    let r = ix.search("\"首次响应\"", 20).expect("search");
    assert!(
        !r.hits.is_empty()
            && r.hits
                .iter()
                .all(|h| h.snippet.contains("首次响应") || h.title.contains("首次响应"))
    );
}

#[test]
fn snippets_highlight_the_matched_words() {
    let dir = tempfile::tempdir().expect("tmp");
    let ix = index(dir.path());
    let r = ix.search("安心码 核验", 5).expect("search");
    let h = &r.hits[0];
    assert!(!h.highlights.is_empty(), "{h:#?}");
    for &(a, b) in &h.highlights {
        let word = &h.snippet[a..b];
        assert!(["安心码", "核验"].contains(&word), "highlighted {word:?}");
    }
    assert!(
        h.html.contains("<b>安心码</b>") || h.html.contains("<b>核验</b>"),
        "{}",
        h.html
    );
    assert!(h.breadcrumb.contains(" › "));
}

#[test]
fn bad_queries_get_clear_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let ix = index(dir.path());
    let err = |q: &str| {
        ix.search(q, 10)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err("").contains("empty query"));
    assert!(err("colour:red 红码").contains("valid filters are std: kind:"));
    assert!(err(&"派".repeat(10 * 1024)).contains("the limit is 500"));
    assert!(err("🙂🙂 !!").contains("nothing searchable"));
    assert!(
        ix.search("\"安心码 核验", 10).is_ok(),
        "unbalanced quote closes at the end"
    );
    assert!(
        ix.search("红码\u{0}\u{1b}派单", 10).is_ok(),
        "control characters are dropped"
    );
    assert!(
        ix.search("-红码", 10).is_ok(),
        "only an exclusion lists everything else"
    );
    let none = ix
        .search("量子纠缠", 10)
        .expect("a word the standards never use");
    assert_eq!((none.total, none.hits.len()), (0, 0));
}

#[test]
fn the_index_follows_publications_and_rebuilds_itself() {
    use biaozhun::library::{Author, Library, PublishRequest};
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Library::init(
        &dir.path().join("lib"),
        &root().join("tests/fixtures/editions/2023"),
        &Author::new("办公室", "o@example.com"),
        None,
    )
    .expect("init");
    let ix_dir = dir.path().join("ix");
    let head = |lib: &Library| lib.log().expect("log")[0].id.clone();
    let source = |lib: &Library| lib.collection_at("HEAD").expect("head").0;

    let ix = SearchIndex::open(&ix_dir, &head(&lib), || source(&lib)).expect("open");
    assert!(ix.search("人身伤害", 10).expect("search").hits.is_empty());
    drop(ix);

    let text =
        std::fs::read_to_string(root().join("tests/fixtures/editions/2025/q-bz-010-2025.md"))
            .expect("fixture");
    lib.publish(&PublishRequest {
        text,
        author: Author::new("王喆", "w@example.com"),
        message: "修订".into(),
        submission: None,
        when: None,
    })
    .expect("publish");
    // The next search sees the new revision (incremental sync by content hash).
    let ix = SearchIndex::open(&ix_dir, &head(&lib), || source(&lib)).expect("reopen");
    let r = ix.search("人身伤害", 10).expect("search");
    assert_eq!(r.hits[0].clause_id, "Q/BZ 010—2025#5.2");
    let superseded = ix.search("投诉 status:superseded", 10).expect("search");
    assert!(
        superseded.hits.iter().all(|h| h.code == "Q/BZ 010—2023") && !superseded.hits.is_empty()
    );
    drop(ix);

    // A deleted index directory is rebuilt transparently.
    std::fs::remove_dir_all(&ix_dir).expect("rm");
    let ix = SearchIndex::open(&ix_dir, &head(&lib), || source(&lib)).expect("rebuilt");
    assert_eq!(
        ix.search("人身伤害", 10).expect("search").hits[0].clause_id,
        "Q/BZ 010—2025#5.2"
    );
    drop(ix);
    // So is a corrupt one.
    std::fs::write(ix_dir.join("meta.json"), b"{ not json").expect("corrupt");
    std::fs::write(ix_dir.join("biaozhun-index.json"), b"garbage").expect("corrupt");
    let ix =
        SearchIndex::open(&ix_dir, &head(&lib), || source(&lib)).expect("rebuilt after corruption");
    assert!(!ix.search("人身伤害", 10).expect("search").hits.is_empty());
}
