//! Reading rendered PDFs back, in Rust: the page count, the text in reading order,
//! the images the pages draw and the fonts their text uses — what the tests used to
//! ask poppler-utils (`pdfinfo`, `pdftotext`, `pdfimages`) for, so `cargo test`
//! needs no system package.
//!
//! Objects, streams, filters and content operators are parsed by `hayro-syntax`, and
//! ToUnicode CMaps by `hayro-cmap` (both are in typst's own dependency tree, so they
//! cost no extra build). Interpreting the text is done here: the graphics and text
//! state (`cm`, `q`/`Q`, `Tf`, `Tm`, `Td`, `TD`, `T*`, `Tc`, `Tw`, `Tz`, `TL`, `Ts`),
//! the text-showing operators (`Tj`, `TJ`, `'`, `"`) with each glyph's advance from
//! the font's widths, form XObjects (`Do`, recursively), and marked content with
//! `/ActualText` (krilla, typst's PDF writer, puts a cluster's text there when its
//! glyph alone cannot say it).
//!
//! Reading order is the order of the page's content, which is how typst writes a
//! page: in document order — paragraphs line by line, table cells row by row and a
//! wrapped cell's lines one after the other. A line break is put where the baseline
//! changes, a space where the next glyph starts apart from the previous one on the
//! same baseline (a column gap, or a jump back); each page ends with a form feed, as
//! `pdftotext` does.
//!
//! Nothing is read wrong in silence: this reader panics, saying the page and what,
//! on what it cannot interpret (not a PDF, a content stream that does not decode, a
//! malformed text operator, a composite font with an encoding other than
//! Identity-H, a missing font or XObject). A glyph with no Unicode value at all (a
//! font without a ToUnicode map, beyond ASCII) comes out as U+FFFD, so an assertion
//! on the text fails instead of passing over it. A glyph that a ToUnicode map leaves
//! out adds no text: krilla maps a cluster's text to its first glyph and leaves the
//! cluster's other glyphs unmapped.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use hayro_cmap::{BfString, CMap};
use hayro_syntax::Pdf;
use hayro_syntax::content::TypedIter;
use hayro_syntax::content::ops::TypedInstruction;
use hayro_syntax::object::{Array, Dict, Name, Number, Object, ObjectIdentifier, Stream};
use hayro_syntax::page::{Page, Resources};

/// An image a page draws (an image XObject or an inline image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// 1-based.
    pub page: usize,
    /// In pixels, as stored.
    pub width: u32,
    pub height: u32,
    /// Whether it carries a soft mask (an alpha channel); `pdfimages -list` shows
    /// one as a row of its own.
    pub soft_mask: bool,
}

/// A font the text of the document is shown in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Font {
    /// The PostScript name, without a subset tag (`NotoSansCJKsc-Regular`).
    pub name: String,
    /// Whether the name had a subset tag (`ABCDEF+`).
    pub subset: bool,
    /// `Type0/CIDFontType0`, `TrueType`, `Type3`, …
    pub kind: String,
    /// Whether the font program is in the file.
    pub embedded: bool,
    /// Whether it has a ToUnicode map (text can be copied and searched).
    pub to_unicode: bool,
}

/// The number of pages.
pub fn pages(pdf: impl AsRef<[u8]>) -> usize {
    open(pdf.as_ref()).pages().len()
}

/// The text, page by page in reading order (see the module's notes); each page ends
/// with a form feed.
pub fn text(pdf: impl AsRef<[u8]>) -> String {
    let pdf = open(pdf.as_ref());
    let mut out = String::new();
    for (i, page) in pdf.pages().iter().enumerate() {
        let read = read_page(page, i + 1);
        out.push_str(&lay_out(&read.glyphs));
        out.push('\u{c}');
    }
    out
}

/// The text with all whitespace removed: for assertions on phrases, since a line
/// may break anywhere.
pub fn flat_text(pdf: impl AsRef<[u8]>) -> String {
    text(pdf).chars().filter(|c| !c.is_whitespace()).collect()
}

/// The images the pages draw, in drawing order (an image drawn twice is listed twice).
pub fn images(pdf: impl AsRef<[u8]>) -> Vec<Image> {
    let pdf = open(pdf.as_ref());
    let mut out = Vec::new();
    for (i, page) in pdf.pages().iter().enumerate() {
        out.extend(read_page(page, i + 1).images);
    }
    out
}

/// The fonts the text is shown in, each once, sorted by name.
pub fn fonts(pdf: impl AsRef<[u8]>) -> Vec<Font> {
    let pdf = open(pdf.as_ref());
    let mut out: Vec<Font> = Vec::new();
    for (i, page) in pdf.pages().iter().enumerate() {
        for f in read_page(page, i + 1).fonts {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

fn open(bytes: &[u8]) -> Pdf {
    assert!(
        bytes.starts_with(b"%PDF-"),
        "not a PDF: it starts with {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
    );
    Pdf::new(Arc::new(bytes.to_vec())).unwrap_or_else(|e| panic!("unreadable PDF: {e:?}"))
}

/// A glyph as placed on the page (user space, y up) with the text it stands for.
#[derive(Debug, Clone)]
struct Glyph {
    x: f64,
    y: f64,
    /// Where the next glyph would start.
    x_end: f64,
    /// The font size on the page.
    size: f64,
    text: String,
}

/// One page's text, fonts and images.
struct PageRead {
    glyphs: Vec<Glyph>,
    images: Vec<Image>,
    fonts: Vec<Font>,
}

fn read_page(page: &Page<'_>, number: usize) -> PageRead {
    let content = page_content(page, number);
    let mut st = Interpreter {
        page: number,
        gs: GraphicsState::default(),
        stack: Vec::new(),
        tm: IDENTITY,
        tlm: IDENTITY,
        marked: Vec::new(),
        fonts: HashMap::new(),
        out: PageRead {
            glyphs: Vec::new(),
            images: Vec::new(),
            fonts: Vec::new(),
        },
    };
    st.run(&content, page.resources(), 0);
    st.out
}

/// The page's content streams, decoded and joined (a failure to decode panics:
/// `Page::page_stream` would skip the stream).
fn page_content(page: &Page<'_>, number: usize) -> Vec<u8> {
    let decode = |s: Stream<'_>| {
        s.decoded()
            .unwrap_or_else(|e| panic!("page {number}: a content stream does not decode: {e:?}"))
            .to_vec()
    };
    let raw = page.raw();
    if let Some(s) = raw.get::<Stream<'_>>(b"Contents") {
        decode(s)
    } else if let Some(a) = raw.get::<Array<'_>>(b"Contents") {
        let mut all = Vec::new();
        for s in a.iter::<Stream<'_>>() {
            all.extend(decode(s));
            all.push(b'\n');
        }
        all
    } else {
        Vec::new()
    }
}

/// Puts the glyphs of one page into lines: a new line where the baseline moves, a
/// space where a glyph starts apart from where the previous one ended.
fn lay_out(glyphs: &[Glyph]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Glyph> = None;
    for g in glyphs {
        if g.text.is_empty() {
            continue;
        }
        if let Some(p) = prev {
            let size = g.size.max(p.size).max(0.1);
            let gap = g.x - p.x_end;
            let ends_blank = out.ends_with(char::is_whitespace);
            let starts_blank = g.text.starts_with(char::is_whitespace);
            if (g.y - p.y).abs() > size * 0.5 {
                out.push('\n');
            } else if (gap > size * 0.25 || gap < -size * 0.5) && !ends_blank && !starts_blank {
                out.push(' ');
            }
        }
        out.push_str(&g.text);
        prev = Some(g);
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

type Matrix = [f64; 6];

const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a` then `b` (PDF's row-vector convention: `a × b`).
fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])
}

fn num(n: &Number) -> f64 {
    n.as_f64()
}

/// What `q` saves and `Q` restores (the text matrix is not part of it).
#[derive(Clone)]
struct GraphicsState {
    ctm: Matrix,
    font: Option<Rc<FontInfo>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    /// `Tz` / 100.
    scale: f64,
    leading: f64,
    rise: f64,
}

impl Default for GraphicsState {
    fn default() -> Self {
        Self {
            ctm: IDENTITY,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// A font as far as reading text needs it.
struct FontInfo {
    record: Font,
    /// Two-byte codes (a composite font with Identity-H) or one-byte codes.
    composite: bool,
    to_unicode: Option<CMap>,
    widths: HashMap<u32, f64>,
    default_width: f64,
    /// Glyph space to text space: 1/1000, or a Type3 font's matrix.
    unit: f64,
}

impl FontInfo {
    fn width(&self, code: u32) -> f64 {
        self.widths
            .get(&code)
            .copied()
            .unwrap_or(self.default_width)
            * self.unit
    }

    /// The text a code stands for: its ToUnicode value; without a map, printable
    /// ASCII for a simple font, else U+FFFD; nothing for a code a map leaves out.
    fn unicode(&self, code: u32) -> String {
        match &self.to_unicode {
            Some(map) => match map.lookup_bf_string(code) {
                Some(BfString::Char(c)) => c.to_string(),
                Some(BfString::String(s)) => s,
                None => String::new(),
            },
            None if !self.composite && (0x20..0x7f).contains(&code) => {
                char::from(code as u8).to_string()
            }
            None => '\u{FFFD}'.to_string(),
        }
    }
}

/// A marked-content sequence (`BMC`/`BDC` … `EMC`), with its `/ActualText` if any.
struct Marked {
    actual_text: Option<String>,
    /// Whether a glyph has shown the actual text yet.
    shown: bool,
}

struct Interpreter {
    page: usize,
    gs: GraphicsState,
    stack: Vec<GraphicsState>,
    tm: Matrix,
    tlm: Matrix,
    marked: Vec<Marked>,
    fonts: HashMap<ObjectIdentifier, Rc<FontInfo>>,
    out: PageRead,
}

/// Form XObjects nested deeper than this are refused (a cycle, or a broken file).
const MAX_FORM_DEPTH: usize = 32;

impl Interpreter {
    fn run(&mut self, content: &[u8], resources: &Resources<'_>, depth: usize) {
        let mut ops = TypedIter::new(content);
        while let Some(op) = ops.next() {
            match op {
                TypedInstruction::SaveState(_) => self.stack.push(self.gs.clone()),
                TypedInstruction::RestoreState(_) => {
                    if let Some(gs) = self.stack.pop() {
                        self.gs = gs;
                    }
                }
                TypedInstruction::Transform(t) => {
                    let m = [t.0, t.1, t.2, t.3, t.4, t.5].map(|n| num(&n));
                    self.gs.ctm = mul(&m, &self.gs.ctm);
                }
                TypedInstruction::XObject(x) => self.x_object(x.0, resources, depth),
                TypedInstruction::InlineImage(s) => self.inline_image(s.0),
                TypedInstruction::BeginMarkedContent(_) => self.marked.push(Marked {
                    actual_text: None,
                    shown: false,
                }),
                TypedInstruction::BeginMarkedContentWithProperties(b) => {
                    let actual_text = actual_text(b.1, resources);
                    self.marked.push(Marked {
                        actual_text,
                        shown: false,
                    });
                }
                TypedInstruction::EndMarkedContent(_) => self.end_marked(),
                TypedInstruction::Fallback(op) => {
                    let name = String::from_utf8_lossy(op);
                    assert!(
                        !TEXT_OPERATORS.contains(&name.as_ref()),
                        "page {}: malformed `{name}` operator",
                        self.page
                    );
                }
                other => self.text_op(other, resources),
            }
        }
    }

    /// The text-state and text-showing operators.
    fn text_op(&mut self, op: TypedInstruction<'_, '_>, resources: &Resources<'_>) {
        match op {
            TypedInstruction::BeginText(_) => {
                self.tm = IDENTITY;
                self.tlm = IDENTITY;
            }
            TypedInstruction::TextFont(f) => {
                self.gs.font = Some(self.font(f.0, resources));
                self.gs.size = num(&f.1);
            }
            TypedInstruction::CharacterSpacing(n) => self.gs.char_spacing = num(&n.0),
            TypedInstruction::WordSpacing(n) => self.gs.word_spacing = num(&n.0),
            TypedInstruction::HorizontalScaling(n) => self.gs.scale = num(&n.0) / 100.0,
            TypedInstruction::TextLeading(n) => self.gs.leading = num(&n.0),
            TypedInstruction::TextRise(n) => self.gs.rise = num(&n.0),
            TypedInstruction::SetTextMatrix(m) => {
                self.tm = [m.0, m.1, m.2, m.3, m.4, m.5].map(|n| num(&n));
                self.tlm = self.tm;
            }
            TypedInstruction::NextLine(t) => self.next_line(num(&t.0), num(&t.1)),
            TypedInstruction::NextLineAndSetLeading(t) => {
                self.gs.leading = -num(&t.1);
                self.next_line(num(&t.0), num(&t.1));
            }
            TypedInstruction::NextLineUsingLeading(_) => self.next_line(0.0, -self.gs.leading),
            TypedInstruction::ShowText(s) => self.show(s.0),
            TypedInstruction::NextLineAndShowText(s) => {
                self.next_line(0.0, -self.gs.leading);
                self.show(s.0);
            }
            TypedInstruction::ShowTextWithParameters(s) => {
                self.gs.word_spacing = num(&s.0);
                self.gs.char_spacing = num(&s.1);
                self.next_line(0.0, -self.gs.leading);
                self.show(s.2);
            }
            TypedInstruction::ShowTexts(a) => {
                for item in a.0.iter::<Object<'_>>() {
                    match item {
                        Object::String(s) => self.show(&s),
                        Object::Number(n) => {
                            let tx = -num(&n) / 1000.0 * self.gs.size * self.gs.scale;
                            self.tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &self.tm);
                        }
                        other => panic!("page {}: `TJ` with {other:?} in it", self.page),
                    }
                }
            }
            _ => {}
        }
    }

    fn next_line(&mut self, tx: f64, ty: f64) {
        self.tlm = mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &self.tlm);
        self.tm = self.tlm;
    }

    /// The text rendering matrix's origin and vertical size at the current position.
    fn origin(&self) -> (f64, f64, f64) {
        let gs = &self.gs;
        let params = [gs.size * gs.scale, 0.0, 0.0, gs.size, 0.0, gs.rise];
        let trm = mul(&params, &mul(&self.tm, &gs.ctm));
        let (x, y) = apply(&trm, 0.0, 0.0);
        (x, y, trm[2].hypot(trm[3]))
    }

    fn show(&mut self, s: &[u8]) {
        let font =
            self.gs.font.clone().unwrap_or_else(|| {
                panic!("page {}: text shown before any font was set", self.page)
            });
        let codes: Vec<u32> = if font.composite {
            assert!(
                s.len().is_multiple_of(2),
                "page {}: a two-byte string of odd length in font {}",
                self.page,
                font.record.name
            );
            s.chunks(2)
                .map(|p| u32::from(p[0]) << 8 | u32::from(p[1]))
                .collect()
        } else {
            s.iter().map(|&b| u32::from(b)).collect()
        };
        for code in codes {
            let (x, y, size) = self.origin();
            let word = if !font.composite && code == 32 {
                self.gs.word_spacing
            } else {
                0.0
            };
            let tx =
                (font.width(code) * self.gs.size + self.gs.char_spacing + word) * self.gs.scale;
            self.tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &self.tm);
            let (x_end, _, _) = self.origin();
            let text = self.glyph_text(&font, code);
            self.out.glyphs.push(Glyph {
                x,
                y,
                x_end,
                size,
                text,
            });
        }
    }

    /// A glyph's text: inside an `/ActualText` span, the span's text on its first
    /// glyph and nothing on the others; else the font's value for the code.
    fn glyph_text(&mut self, font: &FontInfo, code: u32) -> String {
        if let Some(span) = self.marked.iter_mut().find(|m| m.actual_text.is_some()) {
            if span.shown {
                return String::new();
            }
            span.shown = true;
            return span.actual_text.clone().unwrap_or_default();
        }
        font.unicode(code)
    }

    /// An `/ActualText` span that showed no glyph still adds its text, where it was.
    fn end_marked(&mut self) {
        let Some(m) = self.marked.pop() else { return };
        if let (Some(text), false) = (m.actual_text, m.shown) {
            let outer_span = self.marked.iter().any(|m| m.actual_text.is_some());
            if !outer_span {
                let (x, y, size) = self.origin();
                self.out.glyphs.push(Glyph {
                    x,
                    y,
                    x_end: x,
                    size,
                    text,
                });
            }
        }
    }

    fn font(&mut self, name: &Name<'_>, resources: &Resources<'_>) -> Rc<FontInfo> {
        let dict = resources.get_font(name).unwrap_or_else(|| {
            panic!(
                "page {}: font /{} is not in the resources",
                self.page,
                name.as_str()
            )
        });
        if let Some(id) = dict.obj_id()
            && let Some(f) = self.fonts.get(&id)
        {
            return f.clone();
        }
        let info = Rc::new(font_info(&dict, self.page));
        if let Some(id) = dict.obj_id() {
            self.fonts.insert(id, info.clone());
        }
        if !self.out.fonts.contains(&info.record) {
            self.out.fonts.push(info.record.clone());
        }
        info
    }

    fn x_object(&mut self, name: &Name<'_>, resources: &Resources<'_>, depth: usize) {
        let x = resources.get_x_object(name).unwrap_or_else(|| {
            panic!(
                "page {}: XObject /{} is not in the resources",
                self.page,
                name.as_str()
            )
        });
        let dict = x.dict();
        match dict
            .get::<Name<'_>>(b"Subtype")
            .as_ref()
            .map(|n| n.as_str())
        {
            Some("Image") => self.out.images.push(Image {
                page: self.page,
                width: dict.get::<u32>(b"Width").unwrap_or(0),
                height: dict.get::<u32>(b"Height").unwrap_or(0),
                soft_mask: dict.contains_key(b"SMask"),
            }),
            Some("Form") => {
                assert!(
                    depth < MAX_FORM_DEPTH,
                    "page {}: form XObjects nested deeper than {MAX_FORM_DEPTH}",
                    self.page
                );
                let content = x.decoded().unwrap_or_else(|e| {
                    panic!(
                        "page {}: form XObject /{} does not decode: {e:?}",
                        self.page,
                        name.as_str()
                    )
                });
                let own = match dict.get::<Dict<'_>>(b"Resources") {
                    Some(r) => Resources::from_parent(r, resources.clone()),
                    None => resources.clone(),
                };
                let matrix = dict.get::<[f64; 6]>(b"Matrix").unwrap_or(IDENTITY);
                // A form runs in its own graphics state and text object.
                let saved = (self.gs.clone(), self.tm, self.tlm, self.stack.len());
                self.gs.ctm = mul(&matrix, &self.gs.ctm);
                self.run(&content, &own, depth + 1);
                self.stack.truncate(saved.3);
                (self.gs, self.tm, self.tlm) = (saved.0, saved.1, saved.2);
            }
            // PostScript XObjects are not drawn by any viewer.
            _ => {}
        }
    }

    fn inline_image(&mut self, s: &Stream<'_>) {
        let d = s.dict();
        let dim = |long: &[u8], short: &[u8]| d.get::<u32>(long).or_else(|| d.get::<u32>(short));
        self.out.images.push(Image {
            page: self.page,
            width: dim(b"Width", b"W").unwrap_or(0),
            height: dim(b"Height", b"H").unwrap_or(0),
            soft_mask: false,
        });
    }
}

/// The operators whose operands this reader relies on: a malformed one panics.
const TEXT_OPERATORS: [&str; 17] = [
    "Tj", "TJ", "'", "\"", "Tf", "Tm", "Td", "TD", "T*", "Tc", "Tw", "Tz", "TL", "Ts", "cm", "Do",
    "BDC",
];

/// The `/ActualText` of a `BDC`'s properties (inline, or named in the resources).
fn actual_text(props: &Object<'_>, resources: &Resources<'_>) -> Option<String> {
    fn of(d: &Dict<'_>) -> Option<String> {
        let s = d.get::<hayro_syntax::object::String<'_>>(b"ActualText")?;
        Some(text_string(s.as_bytes()))
    }
    match props {
        Object::Dict(d) => of(d),
        Object::Name(n) => of(&resources.properties.get::<Dict<'_>>(n.as_ref())?),
        _ => None,
    }
}

/// A PDF text string: UTF-16BE with a byte-order mark, UTF-8 with one, else
/// PDFDocEncoding (read as Latin-1, which agrees with it on ASCII).
fn text_string(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|p| u16::from(p[0]) << 8 | u16::from(*p.get(1).unwrap_or(&0)))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = b.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        b.iter().map(|&c| char::from(c)).collect()
    }
}

fn font_info(dict: &Dict<'_>, page: usize) -> FontInfo {
    let subtype = name_of(dict, b"Subtype");
    let base = name_of(dict, b"BaseFont");
    let to_unicode = dict.get::<Stream<'_>>(b"ToUnicode").map(|s| {
        let data = s.decoded().unwrap_or_else(|e| {
            panic!("page {page}: font {base}: ToUnicode does not decode: {e:?}")
        });
        CMap::parse(&data, |_| None)
            .unwrap_or_else(|| panic!("page {page}: font {base}: ToUnicode does not parse"))
    });
    let has_to_unicode = to_unicode.is_some();
    if subtype == "Type0" {
        let encoding = name_of(dict, b"Encoding");
        assert!(
            encoding == "Identity-H",
            "page {page}: font {base}: encoding {encoding} is not read (only Identity-H)"
        );
        let cid = dict
            .get::<Array<'_>>(b"DescendantFonts")
            .and_then(|a| a.iter::<Dict<'_>>().next())
            .unwrap_or_else(|| panic!("page {page}: font {base} has no descendant font"));
        let (name, subset) = strip_subset(&name_of(&cid, b"BaseFont"));
        FontInfo {
            record: Font {
                name,
                subset,
                kind: format!("Type0/{}", name_of(&cid, b"Subtype")),
                embedded: embedded(&cid),
                to_unicode: has_to_unicode,
            },
            composite: true,
            to_unicode,
            widths: cid_widths(&cid),
            default_width: cid.get::<f64>(b"DW").unwrap_or(1000.0),
            unit: 0.001,
        }
    } else {
        let (name, subset) = strip_subset(&base);
        let first = dict.get::<u32>(b"FirstChar").unwrap_or(0);
        let widths = dict
            .get::<Array<'_>>(b"Widths")
            .map(|a| {
                a.iter::<f64>()
                    .enumerate()
                    .map(|(i, w)| (first + i as u32, w))
                    .collect()
            })
            .unwrap_or_default();
        let missing = dict
            .get::<Dict<'_>>(b"FontDescriptor")
            .and_then(|d| d.get::<f64>(b"MissingWidth"))
            .unwrap_or(0.0);
        let unit = if subtype == "Type3" {
            dict.get::<[f64; 6]>(b"FontMatrix").map_or(0.001, |m| m[0])
        } else {
            0.001
        };
        FontInfo {
            record: Font {
                name,
                subset,
                embedded: subtype == "Type3" || embedded(dict),
                kind: subtype,
                to_unicode: has_to_unicode,
            },
            composite: false,
            to_unicode,
            widths,
            default_width: missing,
            unit,
        }
    }
}

fn name_of(dict: &Dict<'_>, key: &[u8]) -> String {
    dict.get::<Name<'_>>(key)
        .map(|n| n.as_str().to_string())
        .unwrap_or_default()
}

fn strip_subset(name: &str) -> (String, bool) {
    match name.split_once('+') {
        Some((tag, rest)) if tag.len() == 6 && tag.bytes().all(|b| b.is_ascii_uppercase()) => {
            (rest.to_string(), true)
        }
        _ => (name.to_string(), false),
    }
}

fn embedded(font: &Dict<'_>) -> bool {
    font.get::<Dict<'_>>(b"FontDescriptor").is_some_and(|d| {
        [&b"FontFile"[..], b"FontFile2", b"FontFile3"]
            .iter()
            .any(|k| d.contains_key(k))
    })
}

/// A CIDFont's `/W`: `c [w1 w2 …]` (consecutive CIDs from `c`) or `first last w`.
fn cid_widths(cid: &Dict<'_>) -> HashMap<u32, f64> {
    let mut out = HashMap::new();
    let Some(w) = cid.get::<Array<'_>>(b"W") else {
        return out;
    };
    let items: Vec<Object<'_>> = w.iter::<Object<'_>>().collect();
    let mut i = 0;
    while i + 1 < items.len() {
        let Some(first) = items[i].clone().into_number().map(|n| n.as_i64() as u32) else {
            break;
        };
        match &items[i + 1] {
            Object::Array(ws) => {
                for (k, w) in ws.iter::<f64>().enumerate() {
                    out.insert(first + k as u32, w);
                }
                i += 2;
            }
            Object::Number(last) if i + 2 < items.len() => {
                let w = items[i + 2]
                    .clone()
                    .into_number()
                    .map_or(0.0, |n| n.as_f64());
                // A range is bounded by the two-byte code space.
                let last =
                    (last.as_i64().clamp(0, 0xFFFF) as u32).min(first.saturating_add(0xFFFF));
                for c in first..=last {
                    out.insert(c, w);
                }
                i += 3;
            }
            _ => break,
        }
    }
    out
}

/// A typst document read back: pages, text in reading order (a wrapped paragraph, a
/// table with a wrapped cell, a rare character, the running footer), the photo,
/// the fonts.
#[test]
fn reads_back_what_typst_wrote() {
    let template = r#"
#set page(paper: "a6", margin: 1.5cm, footer: context [第 #counter(page).display() 页])
#set text(font: ("Noto Serif CJK SC", "Noto Sans CJK SC"), size: 10pt, lang: "zh")
#show heading: set text(font: "Noto Sans CJK SC", weight: "bold")
= 读回测试
家政服务人员上门服务前，平台应核验其安心码与健康证；健康证过期的人员不应派单，直至复检合格并重新登记。
#table(columns: (2cm, 1fr), [条款], [要求], [5.1], [服务人员应持有效健康证上岗，过期的不应派单。])
签字：刘䶮（镕）
#image("/photo.png", width: 1cm)
#pagebreak()
第二页：*结论*
"#;
    let data = serde_json::json!({});
    let rendered = biaozhun::report::pdf::render(biaozhun::report::pdf::Job {
        template_name: "pdf-test.typ",
        template,
        data: &data,
        files: vec![("/photo.png".into(), super::report::png())],
        today: "2024-01-01",
        strict: true,
    })
    .unwrap();
    let pdf = &rendered.pdf;
    assert_eq!(pages(pdf), rendered.pages);
    assert_eq!(rendered.pages, 2);
    let text = text(pdf);
    let page_texts: Vec<&str> = text.split('\u{c}').collect();
    assert_eq!(page_texts.len(), 3, "two pages, each ended: {text:?}");
    let flat = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let first = flat(page_texts[0]);
    // In reading order: heading, the paragraph across its line breaks, the table
    // row by row with the wrapped cell whole, the signature, then the footer.
    let order = [
        "读回测试",
        "家政服务人员上门服务前，平台应核验其安心码与健康证；健康证过期的人员不应派单，直至复检合格并重新登记。",
        "条款要求",
        "5.1服务人员应持有效健康证上岗，过期的不应派单。",
        "签字：刘䶮（镕）",
        "第1页",
    ];
    let mut at = 0;
    for phrase in order {
        let found = first[at..]
            .find(phrase)
            .unwrap_or_else(|| panic!("{phrase} not after byte {at} of {first}"));
        at += found + phrase.len();
    }
    assert_eq!(at, first.len(), "nothing else on page 1: {first}");
    assert!(!first.contains('\u{FFFD}'));
    // The paragraph really is on several lines, and they are read one after another.
    assert!(page_texts[0].lines().count() >= 6, "{}", page_texts[0]);
    assert_eq!(flat(page_texts[1]), "第二页：结论第2页");
    assert_eq!(flat_text(pdf), flat(&text));
    assert_eq!(
        images(pdf),
        [Image {
            page: 1,
            width: 4,
            height: 3,
            soft_mask: false
        }]
    );
    let fonts = fonts(pdf);
    let names: Vec<&str> = fonts.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        // The heading in sans bold, the text in serif, *结论* in serif bold.
        [
            "NotoSansCJKsc-Bold",
            "NotoSerifCJKsc-Bold",
            "NotoSerifCJKsc-Regular"
        ],
        "{fonts:?}"
    );
    assert!(
        fonts.iter().all(|f| f.embedded && f.subset && f.to_unicode),
        "{fonts:?}"
    );
}

/// A PDF from object bodies (object n is `objects[n - 1]`, 1 the catalog), with a
/// correct cross-reference table.
fn build(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    let size = objects.len() + 1;
    out.extend(format!("xref\n0 {size}\n0000000000 65535 f \n").as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!("trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend(data);
    out.extend(b"\nendstream");
    out
}

const TO_UNICODE: &str = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange
4 beginbfchar <0001> <5BB6> <0002> <653F> <0003> <0058> <0004> <0059> endbfchar
endcmap CMapName currentdict /CMap defineresource pop end end";

/// A hand-written PDF with what typst seldom writes: an `/ActualText` span over
/// wrongly mapped glyphs, a glyph no map covers, a `TJ` gap, a simple font without
/// ToUnicode, a form XObject with its own resources, an inline image, a soft mask.
fn handmade(encoding: &str, page_content: &str) -> Vec<u8> {
    let d = |s: &str| s.as_bytes().to_vec();
    build(&[
        d("<< /Type /Catalog /Pages 2 0 R >>"),
        d("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        d(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 6 0 R \
           /Resources << /Font << /F1 4 0 R /F2 5 0 R >> /XObject << /Fm 8 0 R /Im 9 0 R >> >> >>",
        ),
        d(&format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Test-Regular /Encoding /{encoding} \
             /DescendantFonts [7 0 R] /ToUnicode 10 0 R >>"
        )),
        d("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FontDescriptor 11 0 R >>"),
        stream("", page_content.as_bytes()),
        d(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+Test-Regular \
           /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
           /DW 1000 /W [1 [500 600] 3 5 700] /FontDescriptor 12 0 R >>",
        ),
        stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Matrix [1 0 0 1 0 0] \
             /Resources << /Font << /F9 4 0 R >> /XObject << /Im2 9 0 R >> >>",
            b"BT /F9 12 Tf 0 0 Td <0002> Tj ET q 10 0 0 10 0 0 cm /Im2 Do Q",
        ),
        stream(
            "/Type /XObject /Subtype /Image /Width 4 /Height 3 /ColorSpace /DeviceRGB \
             /BitsPerComponent 8 /SMask 13 0 R",
            &[200; 36],
        ),
        stream("", TO_UNICODE.as_bytes()),
        d("<< /Type /FontDescriptor /FontName /Helvetica /Flags 32 /MissingWidth 500 >>"),
        d("<< /Type /FontDescriptor /FontName /ABCDEF+Test-Regular /Flags 4 /FontFile2 14 0 R >>"),
        stream(
            "/Type /XObject /Subtype /Image /Width 4 /Height 3 /ColorSpace /DeviceGray \
             /BitsPerComponent 8",
            &[255; 12],
        ),
        stream("", b"not a real font program"),
    ])
}

const HANDMADE_PAGE: &str = "BT /F1 12 Tf 1 0 0 1 20 250 Tm <00010002> Tj ET
BT /F1 12 Tf 1 0 0 1 20 230 Tm /Span << /ActualText <FEFF52184DAE> >> BDC <00030004> Tj EMC <0005> Tj ET
BT /F1 12 Tf 20 220 Td [<0001> -3000 <0002>] TJ ET
BT /F2 10 Tf 20 205 Td (Caf\\351 ok) Tj ET
q 40 0 0 30 20 150 cm /Im Do Q
q 20 0 0 50 80 150 cm BI /W 2 /H 5 /BPC 8 /CS /G ID 0123456789 EI Q
q 1 0 0 1 100 100 cm /Fm Do Q";

#[test]
fn reads_actual_text_forms_and_inline_images() {
    let pdf = handmade("Identity-H", HANDMADE_PAGE);
    assert_eq!(pages(&pdf), 1);
    // 家政; the span's actual text instead of its glyphs' X and Y, and nothing for
    // the unmapped glyph after it; a space where TJ moved the pen; U+FFFD for the
    // byte Helvetica has no Unicode for here; the form's text.
    assert_eq!(text(&pdf), "家政\n刘䶮\n家 政\nCaf\u{FFFD} ok\n政\n\u{c}");
    let image = |width, height, soft_mask| Image {
        page: 1,
        width,
        height,
        soft_mask,
    };
    assert_eq!(
        images(&pdf),
        [image(4, 3, true), image(2, 5, false), image(4, 3, true)]
    );
    assert_eq!(
        fonts(&pdf),
        [
            Font {
                name: "Helvetica".into(),
                subset: false,
                kind: "Type1".into(),
                embedded: false,
                to_unicode: false,
            },
            Font {
                name: "Test-Regular".into(),
                subset: true,
                kind: "Type0/CIDFontType2".into(),
                embedded: true,
                to_unicode: true,
            },
        ]
    );
}

#[test]
#[should_panic(expected = "encoding UniGB-UCS2-H is not read")]
fn refuses_an_encoding_it_cannot_read() {
    text(handmade("UniGB-UCS2-H", HANDMADE_PAGE));
}

#[test]
#[should_panic(expected = "page 1: font /F7 is not in the resources")]
fn refuses_a_missing_font() {
    text(handmade("Identity-H", "BT /F7 12 Tf (x) Tj ET"));
}

#[test]
#[should_panic(expected = "not a PDF")]
fn refuses_what_is_not_a_pdf() {
    pages(b"<html>error page</html>");
}
