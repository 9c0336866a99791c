//! Reports people sign and files machines read.
//!
//! - [`audit`] gathers an audit's report data once (rates, findings, evidence);
//! - [`pdf`] compiles a typst template in-process with the bundled CJK fonts and
//!   checks every character has a glyph;
//! - [`tables`] writes XLSX and CSV, [`oscal`] NIST OSCAL 1.1 assessment results;
//! - [`source`] says in Chinese what each data source read (page and PDF alike).
//!
//! Every format renders the same [`audit::AuditReport`]; none goes back to the
//! database, so the PDF, the workbook and the OSCAL file of one report agree.

pub mod audit;
pub mod oscal;
pub mod pdf;
pub mod source;
pub mod tables;

/// The audit report's typst template (`templates/audit_report.typ`), compiled in.
pub const AUDIT_TEMPLATE: &str = include_str!("../../templates/audit_report.typ");

/// What `report audit --format` and the download buttons produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Pdf,
    Xlsx,
    Csv,
    Oscal,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "pdf" => Some(Format::Pdf),
            "xlsx" => Some(Format::Xlsx),
            "csv" => Some(Format::Csv),
            "oscal" | "json" => Some(Format::Oscal),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
            Format::Oscal => "oscal.json",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Oscal => "application/json",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot encode: {0}")]
    Json(#[from] serde_json::Error),
}

/// A rendered report file.
pub struct Output {
    pub bytes: Vec<u8>,
    /// Characters rendered blank for want of a glyph (PDF only), with where.
    pub missing: Vec<pdf::MissingGlyph>,
    pub pages: usize,
}

/// Renders a gathered audit report in `format`. `strict` refuses a PDF with
/// characters no font has.
pub fn render_audit(
    g: &audit::Gathered,
    format: Format,
    table: tables::Table,
    strict: bool,
) -> Result<Output, ReportError> {
    let plain = |bytes| Output {
        bytes,
        missing: Vec::new(),
        pages: 0,
    };
    Ok(match format {
        Format::Pdf => {
            let data = serde_json::to_value(&g.report)?;
            let r = pdf::render(pdf::Job {
                template_name: "templates/audit_report.typ",
                template: AUDIT_TEMPLATE,
                data: &data,
                files: g.files.clone(),
                today: &g.report.date,
                strict,
            })?;
            Output {
                bytes: r.pdf,
                missing: r.missing,
                pages: r.pages,
            }
        }
        Format::Xlsx => plain(tables::xlsx(&g.report)?),
        Format::Csv => plain(tables::csv(&g.report, table)),
        Format::Oscal => plain(serde_json::to_vec_pretty(&oscal::assessment_results(
            &g.report,
        ))?),
    })
}
