//! Chinese tokenization for tantivy: normalisation + jieba search-mode segmentation.
//!
//! One jieba instance serves the whole process — the classifier's, with the domain words
//! (安心码, 红码, 派单 …) — so search and provision typing segment text the same way.
//! Normalisation folds full-width characters to half-width, every dash to `-` and Latin
//! letters to lowercase *before* segmentation, while token offsets still point into the
//! original text (snippets highlight what the user wrote).

use jieba_rs::Jieba;
use tantivy::tokenizer::{RemoveLongFilter, TextAnalyzer, Token, TokenStream, Tokenizer};

use crate::standard::Classifier;

/// Name under which the analyzer is registered on every index.
pub const ZH: &str = "biaozhun_zh";

/// The analyzer used for indexing and querying Chinese text fields.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(ChineseTokenizer::default())
        .filter(RemoveLongFilter::limit(60))
        .build()
}

#[derive(Clone)]
pub struct ChineseTokenizer {
    jieba: &'static Jieba,
    search_mode: bool,
    tokens: Vec<Token>,
}

impl Default for ChineseTokenizer {
    fn default() -> Self {
        ChineseTokenizer {
            jieba: Classifier::global().jieba(),
            search_mode: true,
            tokens: Vec::new(),
        }
    }
}

impl ChineseTokenizer {
    /// Non-overlapping segmentation (for phrases and exclusions in queries).
    pub fn exact() -> Self {
        ChineseTokenizer {
            search_mode: false,
            ..Default::default()
        }
    }

    /// Tokens of `text` as (text, char position) pairs.
    pub fn terms(&mut self, text: &str) -> Vec<(String, usize)> {
        let mut s = self.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            let t = s.token();
            out.push((t.text.clone(), t.position));
        }
        out
    }
}

pub struct VecTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        tokenize(self.jieba, text, self.search_mode, &mut self.tokens);
        finish(&mut self.tokens);
        VecTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

/// Normalises one character for search: full-width → half-width, dashes → `-`,
/// ideographic space → space, Latin → lowercase.
pub fn normalize_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2500}' | '\u{FE58}' | '\u{FE63}' => '-',
        _ => c,
    };
    c.to_ascii_lowercase()
}

pub fn normalize(text: &str) -> String {
    text.chars().map(normalize_char).collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn tokenize(jieba: &Jieba, text: &str, search_mode: bool, out: &mut Vec<Token>) {
    // Normalised text plus, for each of its bytes, the byte offset in the original.
    let mut norm = String::with_capacity(text.len());
    let mut back: Vec<usize> = Vec::with_capacity(text.len() + 1);
    for (off, c) in text.char_indices() {
        let n = normalize_char(c);
        let before = norm.len();
        norm.push(n);
        back.extend(std::iter::repeat_n(off, norm.len() - before));
    }
    back.push(text.len());
    // Standard codes become one token each (`sb/t10849`), so `SB/T 10849` finds the
    // clauses that cite it rather than every clause with an `sb` or a `t`.
    for (range, code) in crate::standard::code::find_citations(&text_for_codes(&norm)) {
        let key = code_token(&code);
        let char_pos = norm[..range.start].chars().count();
        push(out, &key, back[range.start], back[range.end], char_pos);
    }
    let words = if search_mode {
        jieba.cut_for_search(&norm, false)
    } else {
        jieba.cut(&norm, false)
    };
    for w in words {
        if !w.word.chars().any(is_word_char) {
            continue; // punctuation and spaces
        }
        let from = back[w.byte_start];
        let to = back[w.byte_end];
        push(out, w.word, from, to, w.start);
        // `48h`, `gb22239`: also index the letter and digit runs on their own.
        if search_mode
            && w.word.is_ascii()
            && w.word.chars().any(|c| c.is_ascii_digit())
            && w.word.chars().any(|c| c.is_ascii_alphabetic())
        {
            let mut start = 0;
            let bytes = w.word.as_bytes();
            for i in 1..=bytes.len() {
                if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                    let part = &w.word[start..i];
                    if part.chars().all(is_word_char) {
                        push(
                            out,
                            part,
                            back[w.byte_start + start],
                            back[w.byte_start + i],
                            w.start + start,
                        );
                    }
                    start = i;
                }
            }
        }
    }
}

/// Codes are matched on the normalised text with letters upper-cased again
/// (`find_citations` expects `GB/T`); same byte length, so offsets still line up.
fn text_for_codes(norm: &str) -> String {
    norm.to_ascii_uppercase()
}

/// The single token a standard code is indexed as: family, lowercase, no spaces.
pub fn code_token(code: &crate::standard::Code) -> String {
    code.family().to_lowercase().replace(' ', "")
}

fn finish(out: &mut [Token]) {
    // Search mode emits a word's sub-words before the word itself; consumers such as
    // tantivy's snippet generator need tokens in offset order.
    out.sort_by_key(|t| (t.offset_from, t.offset_to));
}

fn push(out: &mut Vec<Token>, text: &str, from: usize, to: usize, position: usize) {
    out.push(Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text.to_string(),
        position_length: 1,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        ChineseTokenizer::default()
            .terms(s)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    #[test]
    fn search_mode_finds_subwords() {
        let w = words("家政服务员应持证上岗");
        for t in ["家政", "服务员", "家政服务员"] {
            assert!(w.contains(&t.to_string()), "{t} not in {w:?}");
        }
    }

    #[test]
    fn codes_and_units_normalise() {
        assert_eq!(words("T/ZTAC 001.2-2023"), words("Ｔ／ＺＴＡＣ 001.2—2023"));
        let w = words("48h内办结");
        assert!(
            w.contains(&"48".to_string()) && w.contains(&"h".to_string()),
            "{w:?}"
        );
        assert!(!w.iter().any(|t| t == "，" || t == " "));
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "Ｔ／ＺＴＡＣ安心码";
        let mut tok = ChineseTokenizer::default();
        let mut s = tok.token_stream(text);
        let mut found = false;
        while s.advance() {
            let t = s.token();
            if t.text == "安心码" {
                assert_eq!(&text[t.offset_from..t.offset_to], "安心码");
                found = true;
            }
        }
        assert!(found);
    }
}
