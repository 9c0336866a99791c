//! CSV record boundaries: where one record of a log ends and the next begins.
//!
//! The rules are the `csv` crate's (and Python's `csv` module's), so a log reads
//! here as it reads everywhere else:
//! - a `"` opens a quoted field only at the start of a field; anywhere else it is an
//!   ordinary character (`OL"0083` is a seven-character value);
//! - inside a quoted field `""` is a quote, and commas, CR and LF are text; after the
//!   closing quote the field continues as plain text up to the next comma;
//! - a record ends at LF, CRLF or a lone CR; empty lines are no records.
//!
//! Two additions keep one bad byte from costing more than its own record:
//! - a record whose quoted field runs over a line break is accepted only if it has
//!   the header's number of fields; otherwise the quote was a stray one, the first
//!   physical line is the bad row, and reading resumes on the next line;
//! - no record may be longer than [`MAX_RECORD`] bytes: a quoted field still open
//!   after that many bytes is a bad row (its first line), and a line longer than that
//!   is skipped to its end without being held in memory.
//!
//! [`next_record`] is the one definition of these rules. The reader's cutter thread
//! ([`Cutter`]) walks the records that contain quotes to find a safe cut and passes
//! its bad-row decisions along with each block, so the parser threads, which call
//! the same function on their block, agree with a sequential read record for record.

/// Longest record accepted (bytes).
pub const MAX_RECORD: usize = 1 << 20;

/// Why a record is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRecord {
    /// A quoted field that never closes (or closes only after swallowing lines into a
    /// record of the wrong shape).
    Unterminated,
    /// A line longer than [`MAX_RECORD`].
    TooLong,
}

/// One step of the sequential reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A record spans `start..end` (`end` is after its terminator, `body` before
    /// it); `quotes` says whether any field is quoted (when not, fields are split at
    /// every comma).
    Record {
        end: usize,
        body: usize,
        quotes: bool,
    },
    /// A bad row spans `start..end` (its first physical line, terminator included).
    Bad { end: usize, why: BadRecord },
    /// No line break within [`MAX_RECORD`] bytes: the line is bad, and the reader
    /// must skip to the next line break, wherever that is.
    Overlong,
    /// The record is not complete in the data given (only when not at the end).
    NeedMore,
}

/// End of the line break at `i` (`\n`, `\r\n` or a lone `\r`), or None if it cannot be
/// told yet (a `\r` at the end of the data, not at the end of the input).
#[inline]
fn terminator_end(data: &[u8], i: usize, eof: bool) -> Option<usize> {
    if data[i] == b'\n' {
        return Some(i + 1);
    }
    match data.get(i + 1) {
        Some(b'\n') => Some(i + 2),
        Some(_) => Some(i + 1),
        None if eof => Some(i + 1),
        None => None,
    }
}

/// End of the first physical line starting at `start`, if the data holds one.
fn first_line_end(data: &[u8], start: usize, eof: bool) -> Option<usize> {
    let i = start + memchr::memchr2(b'\n', b'\r', &data[start..])?;
    terminator_end(data, i, eof)
}

/// Reads the record that starts at `start` (a record boundary). `width`: the header's
/// number of fields, when known; a record whose quotes span a line break must have
/// it. `eof`: the data ends where the input ends.
pub fn next_record(data: &[u8], start: usize, eof: bool, width: Option<usize>) -> Step {
    let mut pos = start;
    let mut quotes = false;
    let mut spans_lines = false;
    loop {
        let Some(k) = memchr::memchr3(b'"', b'\n', b'\r', &data[pos..]) else {
            if eof {
                let end = data.len();
                return finish(data, (start, end, end), quotes, spans_lines, width, eof);
            }
            return if data.len() - start > MAX_RECORD {
                Step::Overlong
            } else {
                Step::NeedMore
            };
        };
        let i = pos + k;
        if data[i] != b'"' {
            return match terminator_end(data, i, eof) {
                Some(end) => finish(data, (start, i, end), quotes, spans_lines, width, eof),
                None => Step::NeedMore,
            };
        }
        if i != start && data[i - 1] != b',' {
            // A quote inside a field is text.
            pos = i + 1;
            continue;
        }
        // A quoted field: up to the quote that is not doubled.
        quotes = true;
        let mut j = i + 1;
        let close = loop {
            match memchr::memchr(b'"', &data[j..]) {
                Some(k) => {
                    let c = j + k;
                    match data.get(c + 1) {
                        Some(b'"') => j = c + 2,
                        Some(_) => break Some(c),
                        None if eof => break Some(c),
                        None => break None,
                    }
                }
                None => break None,
            }
        };
        let Some(c) = close else {
            if eof {
                spans_lines |= memchr::memchr2(b'\n', b'\r', &data[i..]).is_some();
                let end = data.len();
                return finish(data, (start, end, end), quotes, spans_lines, width, eof);
            }
            if data.len() - start > MAX_RECORD {
                return match first_line_end(data, start, eof) {
                    Some(end) => Step::Bad {
                        end,
                        why: BadRecord::Unterminated,
                    },
                    None => Step::Overlong,
                };
            }
            return Step::NeedMore;
        };
        spans_lines |= memchr::memchr2(b'\n', b'\r', &data[i..c]).is_some();
        pos = c + 1;
    }
}

/// The record `start..end` (its fields end at `body`) is complete: checks the two
/// limits.
fn finish(
    data: &[u8],
    (start, body, end): (usize, usize, usize),
    quotes: bool,
    spans_lines: bool,
    width: Option<usize>,
    eof: bool,
) -> Step {
    let bad = |why| match first_line_end(data, start, eof) {
        Some(e) if e < end => Step::Bad { end: e, why },
        _ => Step::Bad { end, why },
    };
    if end - start > MAX_RECORD {
        return if spans_lines {
            bad(BadRecord::Unterminated)
        } else {
            Step::Bad {
                end,
                why: BadRecord::TooLong,
            }
        };
    }
    if spans_lines
        && let Some(w) = width
        && count_fields(&data[start..body]) != w
    {
        return bad(BadRecord::Unterminated);
    }
    Step::Record { end, body, quotes }
}

/// Fields of one record (without its terminator).
fn count_fields(rec: &[u8]) -> usize {
    let mut fields = Vec::new();
    let mut scratch = Vec::new();
    split(rec, true, &mut fields, &mut scratch);
    fields.len()
}

/// Splits one record (without its line break) into field ranges. Without quotes (`quotes` false) the ranges
/// point into the record; with quotes the unescaped fields are written to `scratch`
/// and the ranges point there. Returns true when the ranges index `scratch`.
pub fn split(
    rec: &[u8],
    quotes: bool,
    fields: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> bool {
    fields.clear();
    if !quotes {
        let mut start = 0;
        for i in memchr::memchr_iter(b',', rec) {
            fields.push((start, i));
            start = i + 1;
        }
        fields.push((start, rec.len()));
        return false;
    }
    scratch.clear();
    let mut i = 0;
    loop {
        let start = scratch.len();
        if rec.get(i) == Some(&b'"') {
            i += 1;
            while i < rec.len() {
                if rec[i] == b'"' {
                    if rec.get(i + 1) == Some(&b'"') {
                        scratch.push(b'"');
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                } else {
                    scratch.push(rec[i]);
                    i += 1;
                }
            }
        }
        // Plain text, or what follows a closing quote, up to the comma.
        let end = memchr::memchr(b',', &rec[i..]).map_or(rec.len(), |k| i + k);
        scratch.extend_from_slice(&rec[i..end]);
        i = end;
        fields.push((start, scratch.len()));
        if i >= rec.len() {
            break;
        }
        i += 1; // the comma
        if i == rec.len() {
            fields.push((scratch.len(), scratch.len()));
            break;
        }
    }
    true
}

/// Physical lines a piece of the input ends (`\n`, `\r\n` and lone `\r` each count
/// one). The reader never cuts between a `\r` and its `\n`.
pub fn line_breaks(data: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', data).count() as u64;
    if memchr::memchr(b'\r', data).is_none() {
        return lf;
    }
    let cr = memchr::memchr_iter(b'\r', data).count() as u64;
    let crlf = memchr::memmem::find_iter(data, b"\r\n").count() as u64;
    lf + cr - crlf
}

/// One record of a sequential read: its bytes `start..end`, where its fields end
/// (`body`), and why it is bad, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub body: usize,
    pub end: usize,
    pub bad: Option<BadRecord>,
}

/// One sequential read of `data` (all of the input). The reference the parallel
/// reader is held to.
pub fn records(data: &[u8], width: Option<usize>) -> Vec<Span> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (body, end, bad) = match next_record(data, pos, true, width) {
            Step::Record { end, body, .. } => (body, end, None),
            Step::Bad { end, why } => (end, end, Some(why)),
            // Neither happens at the end of the input.
            Step::Overlong | Step::NeedMore => (data.len(), data.len(), Some(BadRecord::TooLong)),
        };
        out.push(Span {
            start: pos,
            body,
            end,
            bad,
        });
        pos = end;
    }
    out
}

/// What the cutter decided for one buffer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cut {
    /// The buffer's first `at` bytes are whole records (and bad rows).
    pub at: usize,
    /// Bad rows inside `..at`: (start, end, why), in order.
    pub bad: Vec<(usize, usize, BadRecord)>,
    /// The record at `at` has no line break within [`MAX_RECORD`] bytes: skip to the
    /// next line break.
    pub overlong: bool,
}

/// Finds the last record boundary in `buf` (which starts at a record boundary),
/// walking only the records that contain a quote.
pub fn cut(buf: &[u8], eof: bool, width: Option<usize>) -> Cut {
    let mut out = Cut::default();
    let mut p = 0;
    loop {
        let Some(k) = memchr::memchr(b'"', &buf[p..]) else {
            out.at = if eof {
                buf.len()
            } else {
                last_boundary(buf, p)
            };
            if !eof && out.at == p && buf.len() - p > MAX_RECORD {
                out.overlong = true;
            }
            return out;
        };
        let q = p + k;
        // The record holding the quote starts after the last line break before it.
        let rs = match memchr::memrchr2(b'\n', b'\r', &buf[p..q]) {
            Some(k) => p + k + 1,
            None => p,
        };
        match next_record(buf, rs, eof, width) {
            Step::Record { end, .. } => p = end,
            Step::Bad { end, why } => {
                out.bad.push((rs, end, why));
                p = end;
            }
            Step::Overlong => {
                out.at = rs;
                out.overlong = true;
                return out;
            }
            Step::NeedMore => {
                out.at = rs;
                return out;
            }
        }
        if p >= buf.len() {
            out.at = buf.len();
            return out;
        }
    }
}

/// The last record boundary at or after `from` in quote-free `buf[from..]` (not at
/// the end of the input).
fn last_boundary(buf: &[u8], from: usize) -> usize {
    let mut hi = buf.len();
    while let Some(k) = memchr::memrchr2(b'\n', b'\r', &buf[from..hi]) {
        let i = from + k;
        match terminator_end(buf, i, false) {
            Some(end) => return end,
            // A `\r` at the very end: its `\n` may follow; cut before it.
            None => hi = i,
        }
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn texts(data: &str, width: Option<usize>) -> Vec<String> {
        records(data.as_bytes(), width)
            .into_iter()
            .map(|r| {
                let t = String::from_utf8_lossy(&data.as_bytes()[r.start..r.end]).into_owned();
                match r.bad {
                    Some(_) => format!("BAD:{t}"),
                    None => t,
                }
            })
            .collect()
    }

    #[test_case("a,b\nc,d\n", 2, &["a,b\n", "c,d\n"] ; "plain lines")]
    #[test_case("a,OL\"0083,b\nc,d,e\n", 3, &["a,OL\"0083,b\n", "c,d,e\n"] ; "a quote inside a field is text")]
    #[test_case("a,\"x\ny\",b\nc,d,e\n", 3, &["a,\"x\ny\",b\n", "c,d,e\n"] ; "a quoted line break")]
    #[test_case("a,\"OL0083,b\nc,d,e\nf,g,h\n", 3, &["BAD:a,\"OL0083,b\n", "c,d,e\n", "f,g,h\n"] ; "an unclosed quote costs one line")]
    #[test_case("a,b\rc,d\r\ne,f", 2, &["a,b\r", "c,d\r\n", "e,f"] ; "CR, CRLF and no final break")]
    #[test_case("\"a\"\"b\",c\n", 2, &["\"a\"\"b\",c\n"] ; "doubled quotes")]
    #[test_case("a,b\n\n\r\nc,d\n", 2, &["a,b\n", "\n", "\r\n", "c,d\n"] ; "empty lines are their own records")]
    fn reads(data: &str, width: usize, want: &[&str]) {
        assert_eq!(texts(data, Some(width)), want);
    }

    #[test]
    fn a_stray_quote_does_not_swallow_the_file() {
        let mut log = String::from("case_id,activity,timestamp\n");
        for i in 0..1000 {
            if i == 7 {
                log.push_str("c7,\"派单,2023-01-01T00:00:00+08:00\n");
            } else {
                log.push_str(&format!("c{i},派单,2023-01-01T00:00:00+08:00\n"));
            }
        }
        let recs = records(log.as_bytes(), Some(3));
        assert_eq!(recs.len(), 1001);
        assert_eq!(recs.iter().filter(|r| r.bad.is_some()).count(), 1);
        assert_eq!(recs[8].bad, Some(BadRecord::Unterminated));
    }

    #[test]
    fn line_breaks_count_each_kind_once() {
        assert_eq!(line_breaks(b"a\nb\r\nc\rd"), 3);
        assert_eq!(line_breaks(b"abc"), 0);
    }

    #[test]
    fn the_cut_never_splits_crlf() {
        let c = cut(b"a,b\r\nc,d\r", false, Some(2));
        assert_eq!(c.at, 5);
        let c = cut(b"a,\"b\nc\",d\n\"e", false, Some(2));
        assert_eq!(c.at, 10);
    }
}
