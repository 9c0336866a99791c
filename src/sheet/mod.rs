//! Spreadsheets read within bounds: a `.csv`, `.xlsx` or `.xls` file → the rows
//! of its first sheet as text, cells trimmed, row and column as in the sheet (row
//! 1 is `rows[0]`, column A is `rows[r][0]`).
//!
//! Spreadsheet libraries size their tables from what a file says: calamine
//! allocates a sheet's whole bounding box, reserves from an `.xls`'s DIMENSIONS
//! record and an `.xlsx`'s shared-string count, and reads every `.xls` sheet
//! when the file is opened. A 1.6 KB `.xlsx` with one cell at XFD1048576 would
//! ask for 512 GiB and abort the process. So nothing reaches the library before
//! its size is known:
//!
//! - `.xlsx`: the package is inflated through [`crate::package`] (entries, each
//!   part and the total bounded); the shared-string table's declared and actual
//!   counts are checked; then the first sheet is streamed cell by cell, its
//!   declared `<dimension>` and every cell's position checked against the limits
//!   before the cell is kept.
//! - `.xls`: our own bounded walk of the compound file ([`cfb`]) checks every
//!   DIMENSIONS record and cell record of every sheet before calamine opens it.
//! - CSV: records, fields per record and cells are counted as they are read.
//!
//! The limits: [`MAX_ROWS`] rows, [`MAX_COLS`] columns and [`MAX_CELLS`] cells
//! (rows × columns of the used area). Formulas are refused: cells must hold values.
//! Every refusal names the file and says what to do.

pub mod cfb;

use std::io::Cursor;

/// Most rows read from a sheet.
pub const MAX_ROWS: usize = 200_000;
/// Most columns read from a sheet.
pub const MAX_COLS: usize = 500;
/// Most cells (rows × columns of the used area) read from a sheet.
pub const MAX_CELLS: usize = 5_000_000;

/// The bounds of an `.xlsx` package: a sheet at the cell limit is a few hundred
/// MiB of XML at most.
pub const XLSX_LIMITS: crate::package::Limits = crate::package::Limits {
    entries: 1_000,
    part: 256 << 20,
    total: 384 << 20,
};

/// The rows of a sheet.
pub type Rows = Vec<Vec<String>>;

/// Column letters as in a spreadsheet (1 → A, 27 → AA).
pub fn column(c: usize) -> String {
    let mut n = c;
    let mut s = String::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    s
}

/// Whether a used area of `rows` × `cols` is beyond the limits.
fn over(rows: usize, cols: usize) -> bool {
    rows > MAX_ROWS || cols > MAX_COLS || rows.saturating_mul(cols) > MAX_CELLS
}

/// The refusal of a sheet too large to read; `what` says what was found.
fn too_large(name: &str, what: &str) -> Vec<String> {
    vec![format!(
        "{name}：{what}，超出可读取的范围（最多 {MAX_ROWS} 行、{MAX_COLS} 列、共 {MAX_CELLS} 个单元格），未读取。请删除多余的行列，或按时间分段导出后分别导入"
    )]
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Reads the first sheet of `bytes` (uploaded as `name`). The format comes from
/// the content: a zip package is `.xlsx`, a compound file `.xls`, anything else
/// CSV (UTF-8). A reader that panics on a malformed file gives an error here,
/// never a crash.
pub fn read(bytes: &[u8], name: &str) -> Result<Rows, Vec<String>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_any(bytes, name))).unwrap_or_else(
        |_| {
            Err(vec![format!(
                "{name}：文件结构异常，无法读取；请在问卷星重新下载后再导入"
            )])
        },
    )
}

fn read_any(bytes: &[u8], name: &str) -> Result<Rows, Vec<String>> {
    let lower = name.to_lowercase();
    if is_zip(bytes) {
        read_xlsx(bytes, name)
    } else if bytes.starts_with(&cfb::MAGIC) {
        read_xls(bytes, name)
    } else if lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        Err(vec![format!(
            "{name}：不是可读的 Excel 文件（内容既不是 .xlsx 也不是 .xls）；请在问卷星重新下载"
        )])
    } else {
        read_csv(bytes, name)
    }
}

/// Puts `value` at (row, col), growing the rows as needed.
fn place(rows: &mut Rows, r: usize, c: usize, value: String) {
    if rows.len() <= r {
        rows.resize_with(r + 1, Vec::new);
    }
    let row = &mut rows[r];
    if row.len() <= c {
        row.resize(c + 1, String::new());
    }
    row[c] = value;
}

fn read_csv(bytes: &[u8], name: &str) -> Result<Rows, Vec<String>> {
    let text = std::str::from_utf8(bytes)
        .map(|s| s.trim_start_matches('\u{feff}'))
        .map_err(|_| {
            vec![format!(
                "{name}：不是 UTF-8 文本；请在问卷星下载 Excel 格式，或把 CSV 另存为 UTF-8"
            )]
        })?;
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut cols = 0usize;
    for (i, rec) in rd.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| vec![format!("{name}：第 {line} 行：{e}")])?;
        cols = cols.max(rec.len());
        if over(line, cols) {
            let what = if rec.len() > MAX_COLS {
                format!("第 {line} 行有 {} 列", rec.len())
            } else {
                format!("读到第 {line} 行（{cols} 列）时")
            };
            return Err(too_large(name, &what));
        }
        out.push(rec.iter().map(|s| s.trim().to_string()).collect());
    }
    Ok(out)
}

/// The `.xlsx` shared-string table: its declared count (calamine reserves that
/// many strings) and its actual entries, both at most [`MAX_CELLS`].
fn check_shared_strings(pkg: &mut crate::package::Package, name: &str) -> Result<(), Vec<String>> {
    use quick_xml::events::Event;
    let parts: Vec<String> = pkg
        .names()
        .into_iter()
        .filter(|n| n.to_ascii_lowercase().ends_with("sharedstrings.xml"))
        .collect();
    for part in parts {
        let counted = pkg
            .stream(&part, |r| {
                let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(r));
                let mut buf = Vec::new();
                let (mut declared, mut actual) = (0usize, 0usize);
                loop {
                    let ev = xml
                        .read_event_into(&mut buf)
                        .map_err(crate::package::xml_io_error)?;
                    match ev {
                        Event::Eof => break,
                        Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                            b"sst" => {
                                for a in e.attributes().flatten() {
                                    if matches!(
                                        a.key.local_name().as_ref(),
                                        b"uniqueCount" | b"count"
                                    ) {
                                        let v = String::from_utf8_lossy(&a.value).to_string();
                                        declared =
                                            declared.max(v.trim().parse().unwrap_or(usize::MAX));
                                    }
                                }
                            }
                            b"si" => actual += 1,
                            _ => {}
                        },
                        _ => {}
                    }
                    if declared > MAX_CELLS || actual > MAX_CELLS {
                        break;
                    }
                    buf.clear();
                }
                Ok((declared, actual))
            })
            .map_err(|e| {
                vec![format!(
                    "{name}：Excel 文件{e}；请在问卷星重新下载，或按时间分段导出后分别导入"
                )]
            })?;
        if let Some((declared, actual)) = counted
            && (declared > MAX_CELLS || actual > MAX_CELLS)
        {
            return Err(too_large(
                name,
                &format!(
                    "共享字符串表声明 {} 个、实有 {} 个以上的字符串",
                    if declared == usize::MAX {
                        "无法识别的数目".to_string()
                    } else {
                        declared.to_string()
                    },
                    actual
                ),
            ));
        }
    }
    Ok(())
}

fn read_xlsx(bytes: &[u8], name: &str) -> Result<Rows, Vec<String>> {
    // Each pass gets its own budget: the second reads parts the first has
    // already counted.
    let open = || {
        crate::package::Package::open(bytes, XLSX_LIMITS)
            .map_err(|e| vec![format!("{name}：不是可读的 Excel 文件：{e}")])
    };
    open()?.check_all().map_err(|e| {
        vec![format!(
            "{name}：Excel 文件{e}；请在问卷星重新下载，或按时间分段导出后分别导入"
        )]
    })?;
    check_shared_strings(&mut open()?, name)?;
    let mut wb: calamine::Xlsx<_> = calamine::Reader::new(Cursor::new(bytes))
        .map_err(|e| vec![format!("{name}：不是可读的 Excel 文件（{e}）")])?;
    let sheet = calamine::Reader::sheet_names(&wb)
        .first()
        .cloned()
        .ok_or_else(|| vec![format!("{name}：工作簿没有工作表")])?;
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| vec![format!("{name}：无法读取工作表“{sheet}”（{e}）")])?;
    let dim = cells.dimensions();
    let (rows, cols) = (dim.end.0 as usize + 1, dim.end.1 as usize + 1);
    if over(rows, cols) {
        return Err(too_large(
            name,
            &format!(
                "工作表声明的范围是 A1:{}{rows}（{rows} 行 × {cols} 列）",
                column(cols)
            ),
        ));
    }
    let mut out: Rows = Vec::new();
    let mut formulas = Vec::new();
    let (mut used_rows, mut used_cols, mut records) = (0usize, 0usize, 0usize);
    while let Some(cell) = cells
        .next_cell_with_formula_metadata()
        .map_err(|e| vec![format!("{name}：无法读取工作表“{sheet}”（{e}）")])?
    {
        let (r, c) = (cell.pos.0 as usize, cell.pos.1 as usize);
        records += 1;
        if over(used_rows.max(r + 1), used_cols.max(c + 1)) || records > MAX_CELLS {
            return Err(too_large(
                name,
                &format!("第 {} 行 {} 列有单元格", r + 1, column(c + 1)),
            ));
        }
        used_rows = used_rows.max(r + 1);
        used_cols = used_cols.max(c + 1);
        if let Some(f) = cell.formula {
            let text = match f {
                calamine::XlsxFormulaMetadata::Normal { formula }
                | calamine::XlsxFormulaMetadata::Shared { formula, .. } => format!("={formula}"),
                _ => "共享公式".to_string(),
            };
            formulas.push(format!(
                "第 {} 行 {} 列：单元格是公式（{text}），请导出为值后再导入",
                r + 1,
                column(c + 1)
            ));
            continue;
        }
        let value = calamine::Data::from(cell.value).to_string();
        let value = value.trim();
        if !value.is_empty() {
            place(&mut out, r, c, value.to_string());
        }
    }
    if formulas.is_empty() {
        Ok(out)
    } else {
        Err(formulas)
    }
}

fn read_xls(bytes: &[u8], name: &str) -> Result<Rows, Vec<String>> {
    use calamine::Reader;
    cfb::check_bounds(bytes).map_err(|e| match e {
        cfb::XlsError::TooLarge(what) => too_large(name, &what),
        cfb::XlsError::Unreadable(why) => {
            vec![format!(
                "{name}：不是可读的 Excel 文件（{why}）；请在问卷星重新下载"
            )]
        }
    })?;
    let mut wb = calamine::Xls::new(Cursor::new(bytes))
        .map_err(|e| vec![format!("{name}：不是可读的 Excel 文件（{e}）")])?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| vec![format!("{name}：工作簿没有工作表")])?;
    let mut errors = Vec::new();
    if let Ok(f) = wb.worksheet_formula(&sheet) {
        let (r0, c0) = f.start().unwrap_or((0, 0));
        for (r, row) in f.rows().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    errors.push(format!(
                        "第 {} 行 {} 列：单元格是公式（={cell}），请导出为值后再导入",
                        r0 as usize + r + 1,
                        column(c0 as usize + c + 1)
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let range = wb
        .worksheet_range(&sheet)
        .map_err(|e| vec![format!("{name}：无法读取工作表“{sheet}”（{e}）")])?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut out = Rows::new();
    for (r, row) in range.rows().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let value = cell.to_string();
            let value = value.trim();
            if !value.is_empty() {
                place(
                    &mut out,
                    r0 as usize + r,
                    c0 as usize + c,
                    value.to_string(),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_places() {
        assert_eq!(column(1), "A");
        assert_eq!(column(28), "AB");
        assert_eq!(column(16384), "XFD");
        let mut rows = Rows::new();
        place(&mut rows, 2, 1, "x".into());
        assert_eq!(rows, vec![vec![], vec![], vec![String::new(), "x".into()]]);
    }

    #[test]
    fn csv_is_bounded_by_rows_and_columns() {
        let wide = format!("{}\n", ",".repeat(MAX_COLS));
        let e = read(wide.as_bytes(), "wide.csv").unwrap_err();
        assert!(e[0].contains("第 1 行有 501 列"), "{e:?}");
        let long = "a\n".repeat(MAX_ROWS + 1);
        let e = read(long.as_bytes(), "long.csv").unwrap_err();
        assert!(e[0].contains("读到第 200001 行"), "{e:?}");
        let ok = read("序号,答案\n1, 满意 \n".as_bytes(), "ok.csv").unwrap();
        assert_eq!(ok[1], vec!["1", "满意"]);
    }
}
