//! Character counts the way application forms count them: every Chinese character,
//! letter, digit and punctuation mark is one character; spaces and line breaks are
//! not counted. "ISO 9001认证" is 9 characters, not 3 words.

/// The number of counted characters in `text`.
pub fn count(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(*c))
        .count()
}

/// Zero-width characters pasted from word processors: not visible, not counted.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A field over its limit: how many characters too many.
pub fn over(text: &str, limit: usize) -> Option<usize> {
    let n = count(text);
    (n > limit).then(|| n - limit)
}

#[cfg(test)]
mod tests {
    use test_case::test_case;

    #[test_case("", 0 ; "empty")]
    #[test_case("标准化试点", 5 ; "Chinese characters")]
    #[test_case("ISO 9001认证", 9 ; "letters and digits one each, the space not counted")]
    #[test_case("满意度97.4%。", 9 ; "digits, the point and punctuation")]
    #[test_case("第一段。\n\n第二段，", 8 ; "line breaks are not counted")]
    #[test_case("全角　空格", 4 ; "an ideographic space is a space")]
    #[test_case("（一）“引号”《书名》", 11 ; "full-width brackets and quotes count")]
    #[test_case("a\u{200B}b\u{FEFF}", 2 ; "zero-width characters are invisible")]
    #[test_case("😀家政", 3 ; "an emoji is one")]
    fn counts(text: &str, n: usize) {
        assert_eq!(super::count(text), n);
    }

    #[test]
    fn over_the_limit() {
        assert_eq!(super::over("一二三四五", 5), None);
        assert_eq!(super::over("一二三四五六", 5), Some(1));
    }
}
