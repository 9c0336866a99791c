//! PDF rendering with typst, in-process: a [`World`] that serves one template, the
//! report's data as `/data.json` and the pictures it embeds, with the fonts bundled
//! in `fonts/` (Noto Sans/Serif CJK SC, regular and bold, subset to the CJK Unified
//! Ideographs and Extension A — the BMP hanzi of GB 18030 — plus the 通用规范汉字表
//! characters beyond the BMP; see `fonts/README.md`).
//!
//! Typst leaves a blank where no font has a glyph, silently. So before compiling,
//! every character of the data and the template is looked up in the loaded fonts'
//! coverage; what the bundled fonts lack is looked for in the system's fonts, and
//! what is still missing is reported by character and by where it occurs
//! (`findings[2].observed`) — a warning for people, an error in strict mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook, FontInfo};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;

/// The bundled faces (SIL OFL 1.1, see `fonts/README.md`).
static BUNDLED: [&[u8]; 4] = [
    include_bytes!("../../fonts/NotoSerifSC-Regular.otf"),
    include_bytes!("../../fonts/NotoSerifSC-Bold.otf"),
    include_bytes!("../../fonts/NotoSansSC-Regular.otf"),
    include_bytes!("../../fonts/NotoSansSC-Bold.otf"),
];

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "以下字符没有任何已加载的字体包含，PDF 中会显示为空白：{0}。请安装包含这些字符的字体（如 Noto Sans CJK 或思源黑体的完整版），或更正数据中的字符"
    )]
    MissingGlyphs(String),
    #[error("报告模板 {template} 第 {line} 行第 {col} 列：{message}")]
    Template {
        template: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("cannot encode the report data: {0}")]
    Data(String),
}

/// Fonts known to a render: the bundled and typst's own, optionally the system's.
struct Fonts {
    store: FontStore,
    /// Per font in book order: its coverage, to check characters before compiling.
    infos: Vec<FontInfo>,
}

impl Fonts {
    fn covers(&self, c: char) -> bool {
        self.infos.iter().any(|i| i.coverage.contains(c as u32))
    }
}

/// The bundled faces and typst's own, then (with `system`) the system's fonts.
fn load_fonts(system: bool) -> Fonts {
    let mut store = FontStore::new();
    let mut infos = Vec::new();
    let embedded = BUNDLED
        .iter()
        .flat_map(|data| Font::iter(Bytes::new(*data)))
        .map(|font| {
            let info = font.info().clone();
            (font, info)
        })
        .chain(typst_kit::fonts::embedded());
    for (font, info) in embedded {
        infos.push(info.clone());
        store.push((font, info));
    }
    if system {
        for (path, info) in typst_kit::fonts::system() {
            infos.push(info.clone());
            store.push((path, info));
        }
    }
    Fonts { store, infos }
}

fn bundled() -> &'static Fonts {
    static F: OnceLock<Fonts> = OnceLock::new();
    F.get_or_init(|| load_fonts(false))
}

/// Bundled fonts plus the system's: scanned once, only when a report needs them.
fn with_system() -> &'static Fonts {
    static F: OnceLock<Fonts> = OnceLock::new();
    F.get_or_init(|| load_fonts(true))
}

/// Characters that need no glyph (layout controls).
fn needs_glyph(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}'))
}

/// Every string in `v` with its path (`findings[2].observed`).
fn strings<'v>(v: &'v serde_json::Value, path: &mut String, out: &mut Vec<(String, &'v str)>) {
    match v {
        serde_json::Value::String(s) => out.push((path.clone(), s)),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                strings(x, path, out);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                strings(x, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// A character no font covers, and where it occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingGlyph {
    pub ch: char,
    /// Up to three places: a JSON path into the data, or `模板 第 N 行`.
    pub places: Vec<String>,
}

impl std::fmt::Display for MissingGlyph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "「{}」(U+{:04X}) 见 {}",
            self.ch,
            self.ch as u32,
            self.places.join("、")
        )
    }
}

fn find_missing(
    fonts: &Fonts,
    template: &str,
    data: &serde_json::Value,
    only: Option<&[char]>,
) -> Vec<MissingGlyph> {
    let mut found: BTreeMap<char, Vec<String>> = BTreeMap::new();
    let mut cache: HashMap<char, bool> = HashMap::new();
    let mut check = |c: char, place: &dyn Fn() -> String| {
        if !needs_glyph(c) || c.is_ascii() {
            return;
        }
        if let Some(only) = only
            && !only.contains(&c)
        {
            return;
        }
        let ok = *cache.entry(c).or_insert_with(|| fonts.covers(c));
        if !ok {
            let places = found.entry(c).or_default();
            if places.len() < 3 {
                let p = place();
                if !places.contains(&p) {
                    places.push(p);
                }
            }
        }
    };
    for (n, line) in template.lines().enumerate() {
        for c in line.chars() {
            check(c, &|| format!("模板第 {} 行", n + 1));
        }
    }
    let mut all = Vec::new();
    strings(data, &mut String::new(), &mut all);
    for (path, s) in &all {
        for c in s.chars() {
            check(c, &|| {
                let shown: String = s.chars().take(24).collect();
                format!("{path}（“{shown}”）")
            });
        }
    }
    found
        .into_iter()
        .map(|(ch, places)| MissingGlyph { ch, places })
        .collect()
}

/// A rendered PDF.
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
    /// Characters no font has (rendered blank): only when not strict.
    pub missing: Vec<MissingGlyph>,
    /// typst's own warnings.
    pub warnings: Vec<String>,
}

/// One report to compile.
pub struct Job<'a> {
    /// For error messages: `templates/audit_report.typ`.
    pub template_name: &'a str,
    pub template: &'a str,
    pub data: &'a serde_json::Value,
    /// Further files the template reads (pictures), by absolute virtual path.
    pub files: Vec<(String, Vec<u8>)>,
    /// The document's date (`datetime.today()`), `YYYY-MM-DD`.
    pub today: &'a str,
    /// Refuse to render when a character has no glyph (tests, CI).
    pub strict: bool,
}

struct ReportWorld {
    library: LazyHash<Library>,
    fonts: &'static Fonts,
    main: Source,
    files: HashMap<String, Bytes>,
    today: Option<Datetime>,
}

fn file_id(path: &str) -> FileResult<FileId> {
    let vpath = VirtualPath::new(path).map_err(|_| FileError::AccessDenied)?;
    Ok(FileId::new(RootedPath::new(VirtualRoot::Project, vpath)))
}

impl ReportWorld {
    fn path_of(id: FileId) -> FileResult<String> {
        let rooted = id.get();
        if !matches!(rooted.root(), VirtualRoot::Project) {
            return Err(FileError::AccessDenied);
        }
        Ok(rooted.vpath().get_with_slash().to_string())
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        self.fonts.store.book()
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotSource)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main.id() {
            return Ok(Bytes::from_string(self.main.clone()));
        }
        let path = Self::path_of(id)?;
        self.files
            .get(&path)
            .cloned()
            .ok_or_else(|| FileError::NotFound(path.into()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.store.font(index)
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        self.today
    }
}

fn parse_day(s: &str) -> Option<Datetime> {
    let y = s.get(..4)?.parse().ok()?;
    let m = s.get(5..7)?.parse().ok()?;
    let d = s.get(8..10)?.parse().ok()?;
    Datetime::from_ymd(y, m, d)
}

fn template_error(world: &ReportWorld, name: &str, d: &SourceDiagnostic) -> PdfError {
    let (line, col) = world
        .range(d.span)
        .and_then(|r| {
            let text = world.main.text();
            let before = text.get(..r.start)?;
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map(|l| l.chars().count() + 1)?;
            Some((line, col))
        })
        .unwrap_or((0, 0));
    let mut message = d.message.to_string();
    for h in &d.hints {
        message.push_str(&format!("（提示：{}）", h.v));
    }
    PdfError::Template {
        template: name.to_string(),
        line,
        col,
        message,
    }
}

/// Renders `job` to PDF.
pub fn render(job: Job<'_>) -> Result<Rendered, PdfError> {
    let mut fonts = bundled();
    let mut missing = find_missing(fonts, job.template, job.data, None);
    if !missing.is_empty() {
        let chars: Vec<char> = missing.iter().map(|m| m.ch).collect();
        fonts = with_system();
        missing = find_missing(fonts, job.template, job.data, Some(&chars));
    }
    if job.strict && !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|m| m.to_string()).collect();
        return Err(PdfError::MissingGlyphs(list.join("；")));
    }
    let data = serde_json::to_vec(job.data).map_err(|e| PdfError::Data(e.to_string()))?;
    let main_id = file_id("/main.typ").map_err(|e| PdfError::Data(format!("{e:?}")))?;
    let mut files: HashMap<String, Bytes> = job
        .files
        .into_iter()
        .map(|(p, b)| (p, Bytes::new(b)))
        .collect();
    files.insert("/data.json".into(), Bytes::new(data));
    let world = ReportWorld {
        library: LazyHash::new(Library::builder().build()),
        fonts,
        main: Source::new(main_id, job.template.to_string()),
        files,
        today: parse_day(job.today),
    };
    let result = typst::compile::<PagedDocument>(&world);
    let warnings: Vec<String> = result
        .warnings
        .iter()
        .map(|w| template_error(&world, job.template_name, w).to_string())
        .collect();
    let doc = result.output.map_err(|errs| {
        errs.first()
            .map(|e| template_error(&world, job.template_name, e))
            .unwrap_or_else(|| PdfError::Data("typst failed without a message".into()))
    })?;
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom(job.template_name.to_string()),
        creator: typst::foundations::Smart::Custom(Some("Biaozhun 标准".into())),
        ..Default::default()
    };
    let pdf = typst_pdf::pdf(&doc, &options).map_err(|errs| {
        errs.first()
            .map(|e| template_error(&world, job.template_name, e))
            .unwrap_or_else(|| PdfError::Data("PDF export failed".into()))
    })?;
    let pages = doc.pages().len();
    // Memoized layout results are only useful for recompiling the same document:
    // keep the cache from growing in a long-running server.
    typst::comemo::evict(2);
    Ok(Rendered {
        pdf,
        pages,
        missing,
        warnings,
    })
}

/// The characters in `data`'s strings that no loaded font (bundled, then the
/// system's) has, with where they occur: the check [`render`] runs, for pages that
/// warn before anyone downloads a PDF.
pub fn missing_glyphs(data: &serde_json::Value) -> Vec<MissingGlyph> {
    let m = find_missing(bundled(), "", data, None);
    if m.is_empty() {
        return m;
    }
    let chars: Vec<char> = m.iter().map(|x| x.ch).collect();
    find_missing(with_system(), "", data, Some(&chars))
}

/// Whether typst can decode `bytes` as a picture (PNG, JPEG, GIF, WebP). A report
/// embeds only those: one broken upload must not make the whole PDF fail.
pub fn decodable_image(bytes: &[u8]) -> bool {
    use typst::visualize::{ExchangeFormat, RasterImage};
    match ExchangeFormat::detect(bytes) {
        Some(format) => RasterImage::plain(Bytes::new(bytes.to_vec()), format).is_ok(),
        None => false,
    }
}

/// Whether the bundled fonts alone cover `c` (no system fonts consulted).
pub fn bundled_covers(c: char) -> bool {
    bundled().covers(c)
}
