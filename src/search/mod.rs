//! Full-text search over clauses and provisions (tantivy + jieba).
//!
//! The index is derived data: it is built from a [`Collection`] (the library at HEAD,
//! or a directory of standards), kept in sync by content hash, and rebuilt whenever it is
//! missing, unreadable or of an older schema — never a reason to fail a search.
//!
//! Documents: one per clause (its own text, title, breadcrumb, the provision types it
//! contains) and one per normative provision (so `type:requirement` answers with the
//! requirement sentences themselves).

pub mod baseline;
pub mod eval;
pub mod query;
pub mod synonyms;
pub mod tokenizer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use crate::standard::code::Code;
use crate::standard::{Clause, ClauseKind, Collection, ProvisionType, Standard};

pub use query::{ParsedQuery, QueryError};
use tokenizer::{ChineseTokenizer, ZH};

/// Bump when the schema or tokenization changes: older indexes are rebuilt.
const SCHEMA_VERSION: u32 = 6;
const META_FILE: &str = "biaozhun-index.json";
const WRITER_MEMORY: usize = 256 * 1024 * 1024;
/// Clause titles weigh more than body text.
const TITLE_BOOST: f32 = 1.5;
/// Expansion terms in more than this share of documents are dropped (cost, no signal).
const COMMON_TERM_RATIO: f64 = 0.1;
/// Sub-words of a typed compound weigh less than the compound.
const SUBWORD_BOOST: f32 = 0.3;
/// Thesaurus expansions weigh less than the words typed.
const SYNONYM_BOOST: f32 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, SearchError>;

#[derive(Clone, Copy)]
struct Fields {
    doc_type: Field,
    id: Field,
    clause_id: Field,
    code: Field,
    std_terms: Field,
    p_text: Field,
    std_title: Field,
    /// Index-only words that describe a clause (a term entry is a 术语定义).
    aux: Field,
    kind: Field,
    status: Field,
    year: Field,
    number: Field,
    title: Field,
    text: Field,
    breadcrumb: Field,
    types: Field,
    category: Field,
    dept: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let zh = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ZH)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let f = Fields {
        doc_type: b.add_text_field("doc_type", STRING | STORED),
        id: b.add_text_field("id", STRING | STORED),
        clause_id: b.add_text_field("clause_id", STRING | STORED),
        code: b.add_text_field("code", STRING | STORED),
        std_terms: b.add_text_field("std_terms", STRING),
        p_text: b.add_text_field("p_text", zh.clone()),
        std_title: b.add_text_field("std_title", STORED),
        aux: b.add_text_field(
            "aux",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ZH)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            ),
        ),
        kind: b.add_text_field("kind", STRING | STORED),
        status: b.add_text_field("status", STRING | STORED),
        year: b.add_text_field("year", STRING | STORED),
        number: b.add_text_field("number", STRING | STORED),
        title: b.add_text_field("title", zh.clone()),
        text: b.add_text_field("text", zh),
        breadcrumb: b.add_text_field("breadcrumb", STORED),
        types: b.add_text_field("types", STRING | STORED),
        category: b.add_text_field("category", STRING | STORED),
        dept: b.add_text_field("dept", STRING | STORED),
    };
    (b.build(), f)
}

/// What the index was built from, kept beside it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    schema: u32,
    /// Identity of the source state (library commit or directory signature).
    revision: String,
    /// Standard code → content hash, for incremental updates.
    standards: BTreeMap<String, u64>,
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub score: f32,
    /// `clause` or `provision`
    pub doc_type: String,
    /// Clause ID, or provision ID for provision hits.
    pub id: String,
    pub clause_id: String,
    pub code: String,
    pub std_title: String,
    pub number: String,
    pub title: String,
    /// `标准 › 章 › 条`
    pub breadcrumb: String,
    pub status: String,
    pub types: Vec<String>,
    /// Snippet text and the byte ranges in it that matched.
    pub snippet: String,
    pub highlights: Vec<(usize, usize)>,
    /// The snippet with matches wrapped in `<b>…</b>` (HTML-escaped).
    pub html: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub query: ParsedQuery,
    /// Matching documents; a lower bound when `total_exact` is false (plain word queries
    /// stop counting at the candidate pool).
    pub total: usize,
    pub total_exact: bool,
    pub hits: Vec<Hit>,
}

/// A search index in a directory.
pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    meta: Meta,
}

impl SearchIndex {
    /// Opens the index in `dir`, rebuilding it from `source()` when it is missing,
    /// unreadable, or of another schema version; then brings it up to date with
    /// `revision` (cheap when unchanged: `source` is only called when needed).
    pub fn open(
        dir: &Path,
        revision: &str,
        source: impl FnOnce() -> Collection,
    ) -> Result<SearchIndex> {
        let mut source = Some(source);
        let mut idx = match Self::open_existing(dir) {
            Ok(i) => i,
            Err(e) => {
                if dir.exists() {
                    tracing::warn!(dir = %dir.display(), error = %e, "search index unreadable; rebuilding");
                } else {
                    tracing::info!(dir = %dir.display(), "no search index yet; building");
                }
                let coll = (source.take().expect("source used once"))();
                return Self::rebuild(dir, &coll, revision);
            }
        };
        if idx.meta.revision != revision
            && let Some(src) = source.take()
        {
            let coll = src();
            idx.sync(&coll, revision)?;
        }
        Ok(idx)
    }

    fn open_existing(dir: &Path) -> Result<SearchIndex> {
        let meta: Meta = serde_json::from_slice(&std::fs::read(dir.join(META_FILE))?)
            .map_err(std::io::Error::other)?;
        if meta.schema != SCHEMA_VERSION {
            return Err(SearchError::Io(std::io::Error::other(format!(
                "schema version {} (current {SCHEMA_VERSION})",
                meta.schema
            ))));
        }
        let index = Index::open_in_dir(dir)?;
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(SearchError::Io(std::io::Error::other("schema differs")));
        }
        Self::with_index(dir, index, fields, meta)
    }

    fn with_index(dir: &Path, mut index: Index, fields: Fields, meta: Meta) -> Result<SearchIndex> {
        index.tokenizers().register(ZH, tokenizer::analyzer());
        // Segments are searched in parallel, one thread per core.
        index.set_default_multithread_executor()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            fields,
            meta,
        })
    }

    /// Builds the index from scratch (into a fresh directory, swapped in when complete).
    pub fn rebuild(dir: &Path, coll: &Collection, revision: &str) -> Result<SearchIndex> {
        let tmp = dir.with_extension("building");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(&tmp, schema)?;
        index.tokenizers().register(ZH, tokenizer::analyzer());
        let mut writer: IndexWriter = index.writer(WRITER_MEMORY)?;
        let mut meta = Meta {
            schema: SCHEMA_VERSION,
            revision: revision.to_string(),
            standards: BTreeMap::new(),
        };
        for s in &coll.standards {
            add_standard(&writer, fields, s)?;
            meta.standards.insert(s.code.to_string(), s.source_hash);
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        std::fs::write(
            tmp.join(META_FILE),
            serde_json::to_vec(&meta).map_err(std::io::Error::other)?,
        )?;
        drop(index);
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::rename(&tmp, dir)?;
        tracing::info!(dir = %dir.display(), standards = coll.standards.len(), "search index built");
        let index = Index::open_in_dir(dir)?;
        Self::with_index(dir, index, fields, meta)
    }

    /// Re-indexes the standards whose content changed, removes those that are gone.
    pub fn sync(&mut self, coll: &Collection, revision: &str) -> Result<usize> {
        let mut writer: IndexWriter = self.index.writer(WRITER_MEMORY)?;
        let mut changed = 0;
        let mut seen = BTreeMap::new();
        for s in &coll.standards {
            let code = s.code.to_string();
            seen.insert(code.clone(), s.source_hash);
            if self.meta.standards.get(&code) != Some(&s.source_hash) {
                writer.delete_term(Term::from_field_text(self.fields.code, &code));
                add_standard(&writer, self.fields, s)?;
                changed += 1;
            }
        }
        for code in self.meta.standards.keys() {
            if !seen.contains_key(code) {
                writer.delete_term(Term::from_field_text(self.fields.code, code));
                changed += 1;
            }
        }
        writer.commit()?;
        self.meta = Meta {
            schema: SCHEMA_VERSION,
            revision: revision.to_string(),
            standards: seen,
        };
        std::fs::write(
            self.dir.join(META_FILE),
            serde_json::to_vec(&self.meta).map_err(std::io::Error::other)?,
        )?;
        self.reader.reload()?;
        tracing::info!(changed, revision, "search index updated");
        Ok(changed)
    }

    /// Number of indexed documents (clauses + provisions).
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn revision(&self) -> &str {
        &self.meta.revision
    }

    /// Runs a query in the query language of [`query`].
    ///
    /// Plain word queries run in two phases: a flat disjunction of term queries (which
    /// tantivy answers with block-max WAND, skipping most of the index) picks
    /// candidates, then the full scoring (all-words and adjacency bonuses, requirement
    /// tie-break) ranks only those. Queries with filters, phrases or exclusions are
    /// selective already and run the full query directly.
    pub fn search(&self, input: &str, limit: usize) -> Result<Results> {
        let parsed = query::parse(input)?;
        let f = self.fields;
        let limit = limit.max(1);
        // Provision documents use their own text field, so no filter separates the two.
        let provisions = parsed.filters.iter().any(|x| x.name == "type");
        let (title_f, text_f) = if provisions {
            (None, f.p_text)
        } else {
            (Some(f.title), f.text)
        };
        let fields = |boost: f32| -> Vec<(Field, f32)> {
            let mut v = vec![(text_f, boost)];
            if let Some(t) = title_f {
                v.push((t, boost * TITLE_BOOST));
                v.push((f.aux, boost));
            }
            v
        };
        let phrase_fields: Vec<Field> = title_f.into_iter().chain([text_f]).collect();
        let searcher = self.reader.searcher();
        let num_docs = searcher.num_docs().max(1) as f64;
        let common = |field: Field, t: &str| -> Option<bool> {
            let df = searcher
                .doc_freq(&Term::from_field_text(field, t))
                .unwrap_or(0) as f64;
            (df > 0.0).then_some(df / num_docs > COMMON_TERM_RATIO)
        };

        let mut flat: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut all_words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut bonus: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut highlight: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for w in &parsed.words {
            if w.negated {
                if let Some(q) = phrase(&phrase_fields, &w.text) {
                    must.push((Occur::MustNot, q));
                }
                continue;
            }
            // Highlight what the user typed: whole words (安心码, not its part 安心).
            for (t, _) in ChineseTokenizer::exact().terms(&w.text) {
                highlight.push((Occur::Should, term(text_f, &t)));
            }
            if w.phrase {
                if let Some(q) = phrase(&phrase_fields, &w.text) {
                    must.push((Occur::Must, q));
                }
                continue;
            }
            let mut word_terms = term_queries(&fields(1.0), &w.text, &common, false);
            // Thesaurus expansions score lower than the user's own words.
            for alt in synonyms::expand(&w.text) {
                word_terms.extend(term_queries(&fields(SYNONYM_BOOST), alt, &common, true));
            }
            if word_terms.is_empty() {
                continue;
            }
            let per_word: Vec<(Occur, Box<dyn Query>)> = word_terms
                .iter()
                .map(|q| (Occur::Should, q.box_clone()))
                .collect();
            all_words.push((Occur::Must, Box::new(BooleanQuery::new(per_word))));
            flat.extend(word_terms.into_iter().map(|q| (Occur::Should, q)));
            // Adjacency bonus: 私下收费 as written beats 私下 … 收费 apart.
            if ChineseTokenizer::exact().terms(&w.text).len() > 1
                && let Some(p) = phrase(&[text_f], &w.text)
            {
                bonus.push((Occur::Should, p));
            }
        }
        let plain_words: Vec<&query::Word> = parsed
            .words
            .iter()
            .filter(|w| !w.negated && !w.phrase)
            .collect();
        let typed_tokens = plain_words
            .iter()
            .any(|w| !ChineseTokenizer::exact().terms(&w.text).is_empty());
        let any_positive = parsed.words.iter().any(|w| !w.negated);
        if any_positive && highlight.is_empty() {
            return Err(QueryError::NothingSearchable.into());
        }
        if flat.is_empty() && typed_tokens && !parsed.words.iter().any(|w| w.phrase && !w.negated) {
            // The words occur nowhere in the index: no results (not every document).
            return Ok(Results {
                query: parsed,
                total: 0,
                total_exact: true,
                hits: Vec::new(),
            });
        }
        // Coordination: a clause that matches every word outranks one that repeats a
        // single word many times (红码 派单: the clause about both, not every 派单 clause).
        if all_words.len() >= 2 {
            bonus.push((Occur::Should, Box::new(BooleanQuery::new(all_words))));
        }
        if !provisions {
            // Ties: requirements first.
            bonus.push((
                Occur::Should,
                Box::new(BoostQuery::new(term(f.types, "requirement"), 0.05)),
            ));
        }
        for flt in &parsed.filters {
            must.push((Occur::Must, self.filter(flt)));
        }
        if provisions || must.iter().all(|(o, _)| *o == Occur::MustNot) && flat.is_empty() {
            // Restrict to documents of the right kind even when nothing else does.
            must.push((
                Occur::Must,
                term(f.doc_type, if provisions { "provision" } else { "clause" }),
            ));
        }

        let has_flat = !flat.is_empty();
        // Two phases unless the query is selective already (a phrase, an exclusion, or a
        // std:/dept: filter); broad filters (type:, year: …) apply in the second phase.
        let selective = parsed.words.iter().any(|w| w.phrase || w.negated)
            || parsed
                .filters
                .iter()
                .any(|x| matches!(x.name, "std" | "dept"));
        let two_phase = has_flat && !selective;
        let flat_query: Box<dyn Query> = Box::new(BooleanQuery::new(flat));
        let build = |candidates: Option<Candidates>| -> BooleanQuery {
            let mut parts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            if let Some(c) = candidates {
                parts.push((Occur::Must, Box::new(c)));
            }
            if has_flat {
                parts.push((Occur::Must, flat_query.box_clone()));
            }
            parts.extend(bonus.iter().map(|(o, q)| (*o, q.box_clone())));
            parts.extend(must.iter().map(|(o, q)| (*o, q.box_clone())));
            BooleanQuery::new(parts)
        };
        let t0 = std::time::Instant::now();
        let mut t1 = t0.elapsed();
        let mut result = None;
        if two_phase {
            // Filters drop candidates, so they need a deeper pool.
            let pool = if parsed.filters.is_empty() {
                (limit * 3).max(30)
            } else {
                (limit * 20).max(200)
            };
            let candidates =
                searcher.search(&*flat_query, &TopDocs::with_limit(pool).order_by_score())?;
            t1 = t0.elapsed();
            let exhausted = candidates.len() < pool;
            let mut by_segment: std::collections::HashMap<
                tantivy::index::SegmentId,
                Vec<tantivy::DocId>,
            > = std::collections::HashMap::new();
            for (_, addr) in &candidates {
                by_segment
                    .entry(searcher.segment_reader(addr.segment_ord).segment_id())
                    .or_default()
                    .push(addr.doc_id);
            }
            for docs in by_segment.values_mut() {
                docs.sort_unstable();
            }
            let query = build(Some(Candidates(std::sync::Arc::new(by_segment))));
            let (top, count) = searcher.search(
                &query,
                &(TopDocs::with_limit(limit).order_by_score(), Count),
            )?;
            // Too few left after filtering, and more candidates exist: do it in one pass.
            if top.len() >= limit || exhausted {
                result = Some((top, count, exhausted));
            }
        }
        let (top, total, total_exact) = match result {
            Some(r) => r,
            None => {
                let query = build(None);
                let (top, count) = searcher.search(
                    &query,
                    &(TopDocs::with_limit(limit).order_by_score(), Count),
                )?;
                (top, count, true)
            }
        };
        let t2 = t0.elapsed();
        let highlight = BooleanQuery::new(highlight);
        let mut snippets =
            tantivy::snippet::SnippetGenerator::create(&searcher, &highlight, text_f)?;
        snippets.set_max_num_chars(180);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let get = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let snippet = snippets.snippet_from_doc(&d);
            let mut fragment = snippet.fragment().to_string();
            let mut highlights: Vec<(usize, usize)> = snippet
                .highlighted()
                .iter()
                .map(|r| (r.start, r.end))
                .collect();
            let mut html = snippet.to_html();
            if fragment.is_empty() {
                // Matched only in the title or by filters: show the start of the text.
                fragment = get(text_f).chars().take(60).collect();
                highlights.clear();
                html = html_escape(&fragment);
            }
            hits.push(Hit {
                score,
                doc_type: get(f.doc_type),
                id: get(f.id),
                clause_id: get(f.clause_id),
                code: get(f.code),
                std_title: get(f.std_title),
                number: get(f.number),
                title: get(f.title),
                breadcrumb: get(f.breadcrumb),
                status: get(f.status),
                types: d
                    .get_all(f.types)
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                snippet: fragment,
                highlights,
                html,
            });
        }
        tracing::debug!(
            query = input,
            phase1_us = t1.as_micros() as u64,
            phase2_us = (t2 - t1).as_micros() as u64,
            snippets_us = (t0.elapsed() - t2).as_micros() as u64,
            "search timing"
        );
        Ok(Results {
            query: parsed,
            total,
            total_exact,
            hits,
        })
    }

    fn filter(&self, flt: &query::Filter) -> Box<dyn Query> {
        let f = self.fields;
        match flt.name {
            "std" => term(f.std_terms, &std_key(&flt.value)),
            "kind" => term(f.kind, &flt.value),
            "status" => term(f.status, &flt.value),
            "type" => term(f.types, &flt.value),
            "category" => term(f.category, &flt.value),
            "dept" => term(f.dept, &flt.value),
            "year" => match flt.value.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (u32, u32) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                    let years: Vec<(Occur, Box<dyn Query>)> = (a..=b.min(a + 200))
                        .map(|y| (Occur::Should, term(f.year, &y.to_string())))
                        .collect();
                    Box::new(BooleanQuery::new(years))
                }
                None => term(f.year, &flt.value),
            },
            _ => Box::new(AllQuery),
        }
    }
}

/// The first phase's candidates (doc ids per segment) as a query the second phase
/// intersects with: scoring then touches only these documents.
#[derive(Clone, Debug)]
struct Candidates(
    std::sync::Arc<std::collections::HashMap<tantivy::index::SegmentId, Vec<tantivy::DocId>>>,
);

impl Query for Candidates {
    fn weight(
        &self,
        _: tantivy::query::EnableScoring<'_>,
    ) -> tantivy::Result<Box<dyn tantivy::query::Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl tantivy::query::Weight for Candidates {
    fn scorer(
        &self,
        reader: &tantivy::SegmentReader,
        _boost: f32,
    ) -> tantivy::Result<Box<dyn tantivy::query::Scorer>> {
        let docs = self
            .0
            .get(&reader.segment_id())
            .cloned()
            .unwrap_or_default();
        Ok(Box::new(ListScorer { docs, at: 0 }))
    }

    fn explain(
        &self,
        _reader: &tantivy::SegmentReader,
        _doc: tantivy::DocId,
    ) -> tantivy::Result<tantivy::query::Explanation> {
        Ok(tantivy::query::Explanation::new(
            "first-phase candidate",
            0.0,
        ))
    }
}

struct ListScorer {
    docs: Vec<tantivy::DocId>,
    at: usize,
}

impl tantivy::DocSet for ListScorer {
    fn advance(&mut self) -> tantivy::DocId {
        self.at += 1;
        self.doc()
    }

    fn doc(&self) -> tantivy::DocId {
        self.docs
            .get(self.at)
            .copied()
            .unwrap_or(tantivy::TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        self.docs.len() as u32
    }
}

impl tantivy::query::Scorer for ListScorer {
    fn score(&mut self) -> f32 {
        0.0
    }
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::WithFreqs,
    ))
}

/// A word's tokens as boosted term queries, one per field. The query side uses exact
/// segmentation: the index holds every sub-word of a compound (search mode), so the
/// whole word typed finds it, and common fragments (服务, 人员) do not flood the query.
/// `common(field, token)`: `None` when the token is not in the field at all, else
/// whether it is in so many documents that it carries no ranking signal.
fn term_queries(
    fields: &[(Field, f32)],
    text: &str,
    common: &dyn Fn(Field, &str) -> Option<bool>,
    expansion: bool,
) -> Vec<Box<dyn Query>> {
    let exact: Vec<String> = ChineseTokenizer::exact()
        .terms(text)
        .into_iter()
        .map(|t| t.0)
        .collect();
    // Parts of a long compound (哪些服务必须签合同 → 服务, 合同 …) still count, at a
    // fraction of the weight; block-max WAND skips them when they cannot change the top.
    let parts: Vec<String> = ChineseTokenizer::default()
        .terms(text)
        .into_iter()
        .map(|t| t.0)
        .filter(|t| !exact.contains(t))
        .collect();
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    for &(field, boost) in fields {
        for (tokens, weight) in [(&exact, 1.0), (&parts, SUBWORD_BOOST)] {
            for t in tokens {
                // Fragments and expansions found in most clauses (家政, 服务) add cost,
                // not ranking signal: only the words the user typed are kept regardless.
                match common(field, t) {
                    // Absent from this field: no cost, no signal.
                    None => continue,
                    // A very common single character (与, 的, 和) is a stop word even
                    // when typed; a common fragment or expansion never helps ranking.
                    Some(true) if expansion || weight < 1.0 || t.chars().count() == 1 => continue,
                    _ => {}
                }
                let q = TermQuery::new(
                    Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                out.push(Box::new(BoostQuery::new(Box::new(q), boost * weight)));
            }
        }
    }
    out
}

/// The exact words of `text`, in order, in any of `fields`.
fn phrase(fields: &[Field], text: &str) -> Option<Box<dyn Query>> {
    let tokens = ChineseTokenizer::exact().terms(text);
    if tokens.is_empty() {
        return None;
    }
    let per_field: Vec<(Occur, Box<dyn Query>)> = fields
        .iter()
        .map(|&field| {
            let q: Box<dyn Query> = if tokens.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &tokens[0].0),
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                Box::new(PhraseQuery::new_with_offset(
                    tokens
                        .iter()
                        .map(|(t, p)| (*p, Term::from_field_text(field, t)))
                        .collect(),
                ))
            };
            (Occur::Should, q)
        })
        .collect();
    Some(Box::new(BooleanQuery::new(per_field)))
}

/// Normalised key for `std:` values: full code, family (no year), prefix, or slug.
fn std_key(value: &str) -> String {
    match Code::parse(value) {
        Ok(c) if c.year.is_some() => c.to_string(),
        Ok(c) => c.family(),
        Err(_) => tokenizer::normalize(value)
            .trim()
            .to_uppercase()
            .replace(' ', ""),
    }
}

fn std_terms(code: &Code) -> Vec<String> {
    vec![
        code.to_string(),
        code.family(),
        code.prefix.to_uppercase().replace(' ', ""),
        code.slug().to_uppercase(),
    ]
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The text a clause is searched by, or empty when it is not a useful hit: a heading
/// without text of its own (its title still reaches users through its clauses'
/// breadcrumbs), chapter 2's reference list and chapter 3's lead-in sentence, which only
/// name documents — the clauses that apply a cited standard are the answers.
pub(crate) fn indexed_text(c: &Clause) -> String {
    let boilerplate = c.kind == ClauseKind::Chapter
        && (c.number == "2" || (c.number == "3" && !c.children.is_empty()));
    let text = c.own_text();
    if boilerplate || text.trim().is_empty() {
        String::new()
    } else {
        text
    }
}

fn add_standard(writer: &IndexWriter, f: Fields, s: &Standard) -> Result<()> {
    let code = s.code.to_string();
    let year = s.code.year.map(|y| y.to_string()).unwrap_or_default();
    let mut categories = Vec::new();
    if let Some(c) = &s.meta.category {
        categories.push(c.clone());
        if let Some((top, _)) = c.split_once('/') {
            categories.push(top.to_string());
        }
    }
    let header = format!("{} {}", s.code, s.meta.title);
    let mut stack: Vec<String> = Vec::new();
    for top in &s.clauses {
        index_clause(
            writer,
            f,
            s,
            top,
            &header,
            &mut stack,
            &code,
            &year,
            &categories,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn index_clause(
    writer: &IndexWriter,
    f: Fields,
    s: &Standard,
    c: &Clause,
    header: &str,
    crumbs: &mut Vec<String>,
    code: &str,
    year: &str,
    categories: &[String],
) -> Result<()> {
    let label = match (c.kind, &c.title) {
        (ClauseKind::Annex, t) => format!("附录{} {}", c.number, t.as_deref().unwrap_or("")),
        (ClauseKind::Chapter | ClauseKind::Clause, Some(t)) => format!("{} {t}", c.number),
        (ClauseKind::Chapter | ClauseKind::Clause, None) => c.number.clone(),
        (_, t) => t.clone().unwrap_or_else(|| c.number.clone()),
    };
    crumbs.push(label);
    let breadcrumb = std::iter::once(header.to_string())
        .chain(crumbs.iter().cloned())
        .collect::<Vec<_>>()
        .join(" › ");
    let text = indexed_text(c);
    let mut types: Vec<&str> = c.provisions.iter().map(|p| p.kind.as_str()).collect();
    types.sort();
    types.dedup();
    let base = |doc_type: &str, id: &str, text: &str| {
        let mut d = doc!(
            f.doc_type => doc_type,
            f.id => id,
            f.clause_id => c.id.as_str(),
            f.code => code,
            f.kind => s.meta.kind.as_str(),
            f.status => s.meta.status.as_str(),
            f.year => year,
            f.number => c.number.as_str(),
            f.breadcrumb => breadcrumb.as_str(),
            f.std_title => s.meta.title.as_str(),
        );
        // Clause documents search title + text; provision documents only p_text.
        if doc_type == "clause" {
            d.add_text(f.title, c.title.as_deref().unwrap_or(""));
            d.add_text(f.text, text);
            if c.term.is_some() {
                d.add_text(f.aux, "术语 定义 含义 是什么");
            }
        } else {
            d.add_text(f.p_text, text);
        }
        for t in std_terms(&s.code) {
            d.add_text(f.std_terms, &t);
        }
        for cat in categories {
            d.add_text(f.category, cat);
        }
        if let Some(dept) = &s.meta.department {
            d.add_text(f.dept, dept);
        }
        d
    };
    if !text.is_empty() {
        let mut d = base("clause", &c.id, &text);
        for t in &types {
            d.add_text(f.types, t);
        }
        writer.add_document(d)?;
    }
    for p in c
        .provisions
        .iter()
        .filter(|p| p.kind != ProvisionType::Statement)
    {
        let mut d = base("provision", &p.id, &p.text);
        d.add_text(f.types, p.kind.as_str());
        writer.add_document(d)?;
    }
    for child in &c.children {
        index_clause(writer, f, s, child, header, crumbs, code, year, categories)?;
    }
    crumbs.pop();
    Ok(())
}
