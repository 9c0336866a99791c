//! Relevance evaluation: nDCG@10 and recall@10 over a labelled query set
//! (`tests/data/search_eval.tsv`), for our engine and for a baseline.

use std::collections::HashSet;

use serde::Serialize;

#[derive(Debug, Clone)]
pub struct EvalQuery {
    pub query: String,
    pub relevant: HashSet<String>,
}

/// Reads `query<TAB>id,id,…` lines after a header.
pub fn load(tsv: &str) -> Vec<EvalQuery> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let (q, r) = l.split_once('\t')?;
            Some(EvalQuery {
                query: q.trim().to_string(),
                relevant: r
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    pub ndcg10: f64,
    pub recall10: f64,
    pub queries: usize,
}

/// nDCG@10 of one ranked list with binary relevance.
pub fn ndcg10(ranked: &[String], relevant: &HashSet<String>) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, id)| relevant.contains(*id))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(10))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

pub fn recall10(ranked: &[String], relevant: &HashSet<String>) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(10)
        .filter(|id| relevant.contains(*id))
        .count();
    found as f64 / relevant.len().min(10) as f64
}

/// Mean scores of `run` (query → ranked clause ids) over the set.
pub fn evaluate(
    set: &[EvalQuery],
    mut run: impl FnMut(&str) -> Vec<String>,
) -> (Scores, Vec<(String, f64)>) {
    let mut per_query = Vec::new();
    let (mut n, mut r) = (0.0, 0.0);
    for q in set {
        let mut ranked = run(&q.query);
        let mut seen = HashSet::new();
        ranked.retain(|id| seen.insert(id.clone()));
        let nd = ndcg10(&ranked, &q.relevant);
        n += nd;
        r += recall10(&ranked, &q.relevant);
        per_query.push((q.query.clone(), nd));
    }
    let k = set.len().max(1) as f64;
    (
        Scores {
            ndcg10: n / k,
            recall10: r / k,
            queries: set.len(),
        },
        per_query,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_empty_rankings() {
        let rel: HashSet<String> = ["a".to_string(), "b".to_string()].into();
        assert!((ndcg10(&["a".into(), "b".into()], &rel) - 1.0).abs() < 1e-9);
        assert_eq!(ndcg10(&[], &rel), 0.0);
        assert!((recall10(&["x".into(), "b".into()], &rel) - 0.5).abs() < 1e-9);
        // A hit at rank 2 is worth less than at rank 1.
        assert!(ndcg10(&["x".into(), "a".into()], &rel) < ndcg10(&["a".into(), "x".into()], &rel));
    }
}
