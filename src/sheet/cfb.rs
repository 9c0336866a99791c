//! The `.xls` bounds check. calamine builds a table for every sheet of an `.xls`
//! as it opens the file, sized from each sheet's DIMENSIONS record and cell
//! positions, so those are read here first: our own walk of the compound file
//! (MS-CFB) finds the workbook stream, and its BIFF records are read the way
//! calamine reads them (the globals up to their EOF, then each sheet from its
//! BoundSheet8 position, nested substreams skipped). Every chain walk is bounded
//! by the number of sectors in the file, so a looping or oversized structure is
//! an error, not a hang or an allocation.

use super::{MAX_CELLS, column, over};

/// The first bytes of a compound file.
pub const MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Why an `.xls` is not read.
#[derive(Debug, PartialEq, Eq)]
pub enum XlsError {
    /// Beyond the limits: what was found.
    TooLarge(String),
    /// Not a readable workbook: why.
    Unreadable(String),
}

/// Sector ids at or above this are markers (end of chain, free, FAT, DIFAT).
const MAX_REG_SECT: u32 = 0xFFFF_FFFA;
const FREE: u32 = 0xFFFF_FFFF;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn bad(why: &str) -> XlsError {
    XlsError::Unreadable(why.to_string())
}

/// The compound file's sectors and allocation table.
struct Compound<'a> {
    bytes: &'a [u8],
    size: usize,
    fat: Vec<u32>,
}

impl<'a> Compound<'a> {
    fn open(bytes: &'a [u8]) -> Result<Compound<'a>, XlsError> {
        if bytes.len() < 512 || !bytes.starts_with(&MAGIC) {
            return Err(bad("文件头不是复合文档"));
        }
        let shift = u16_at(bytes, 0x1E).unwrap_or(0);
        if shift != 9 && shift != 12 {
            return Err(bad("扇区大小无效"));
        }
        let size = 1usize << shift;
        let mut c = Compound {
            bytes,
            size,
            fat: Vec::new(),
        };
        let sectors = c.sectors();
        // The FAT's own sectors: 109 in the header, the rest in the DIFAT chain.
        let mut fat_sectors: Vec<u32> = (0..109)
            .filter_map(|i| u32_at(bytes, 0x4C + 4 * i))
            .filter(|&s| s < MAX_REG_SECT)
            .collect();
        let mut difat = u32_at(bytes, 0x44).unwrap_or(FREE);
        let mut steps = 0;
        while difat < MAX_REG_SECT {
            steps += 1;
            if steps > sectors {
                return Err(bad("扇区分配表的链条循环"));
            }
            let s = c.sector(difat)?;
            let n = size / 4 - 1;
            fat_sectors.extend(
                (0..n)
                    .filter_map(|i| u32_at(s, 4 * i))
                    .filter(|&x| x < MAX_REG_SECT),
            );
            difat = u32_at(s, 4 * n).unwrap_or(FREE);
        }
        if fat_sectors.len() > sectors {
            return Err(bad("扇区分配表大于文件"));
        }
        let mut fat = Vec::with_capacity(fat_sectors.len() * size / 4);
        for s in fat_sectors {
            let sec = c.sector(s)?;
            fat.extend((0..size / 4).filter_map(|i| u32_at(sec, 4 * i)));
        }
        c.fat = fat;
        Ok(c)
    }

    /// Sectors in the file (the header takes the first sector's room).
    fn sectors(&self) -> usize {
        self.bytes.len().div_ceil(self.size).saturating_sub(1)
    }

    fn sector(&self, id: u32) -> Result<&'a [u8], XlsError> {
        let start = (id as usize + 1)
            .checked_mul(self.size)
            .filter(|&s| s < self.bytes.len())
            .ok_or_else(|| bad("扇区位置超出文件"))?;
        Ok(&self.bytes[start..(start + self.size).min(self.bytes.len())])
    }

    /// The sector ids of a chain, bounded by the table's length (a loop is an error).
    fn chain(table: &[u32], start: u32) -> Result<Vec<u32>, XlsError> {
        let mut out = Vec::new();
        let mut id = start;
        while id < MAX_REG_SECT {
            if out.len() >= table.len() {
                return Err(bad("扇区链条循环或超出分配表"));
            }
            out.push(id);
            id = *table
                .get(id as usize)
                .ok_or_else(|| bad("扇区链条超出分配表"))?;
        }
        Ok(out)
    }

    /// A stream in regular sectors, cut to `len`.
    fn stream(&self, start: u32, len: usize) -> Result<Vec<u8>, XlsError> {
        let mut out = Vec::new();
        for id in Self::chain(&self.fat, start)? {
            out.extend_from_slice(self.sector(id)?);
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        Ok(out)
    }

    /// The workbook stream (`Workbook`, or `Book` in older files).
    fn workbook(&self) -> Result<Vec<u8>, XlsError> {
        let dir_start = u32_at(self.bytes, 0x30).unwrap_or(FREE);
        let dir = self.stream(dir_start, self.bytes.len())?;
        let entry = |i: usize| dir.get(i * 128..(i + 1) * 128);
        let root = entry(0).ok_or_else(|| bad("没有目录"))?;
        let v3 = self.size == 512;
        let size_of = |e: &[u8]| -> usize {
            let low = u32_at(e, 0x78).unwrap_or(0) as usize;
            let high = if v3 {
                0
            } else {
                u32_at(e, 0x7C).unwrap_or(0) as usize
            };
            // A size beyond the file cannot be real; the stream is cut to the file.
            if high > 0 {
                self.bytes.len()
            } else {
                low.min(self.bytes.len())
            }
        };
        let name_of = |e: &[u8]| -> String {
            let n = (u16_at(e, 0x40).unwrap_or(0) as usize).min(64);
            let units: Vec<u16> = (0..n.saturating_sub(2) / 2)
                .filter_map(|i| u16_at(e, 2 * i))
                .collect();
            String::from_utf16_lossy(&units)
        };
        let book = (1..dir.len() / 128)
            .filter_map(entry)
            .find(|e| {
                e.get(0x42) == Some(&2) && {
                    let n = name_of(e);
                    n.eq_ignore_ascii_case("Workbook") || n.eq_ignore_ascii_case("Book")
                }
            })
            .ok_or_else(|| bad("没有工作簿数据（Workbook 流）"))?;
        let start = u32_at(book, 0x74).unwrap_or(FREE);
        let len = size_of(book);
        // calamine loads the mini stream (64-byte sectors) whenever the file has
        // a mini FAT, so its chains are walked (and so checked) here too.
        let (mini_fat, mini) = if u32_at(self.bytes, 0x40).unwrap_or(0) > 0 {
            let raw = self.stream(u32_at(self.bytes, 0x3C).unwrap_or(FREE), self.bytes.len())?;
            let table: Vec<u32> = (0..raw.len() / 4)
                .filter_map(|i| u32_at(&raw, 4 * i))
                .collect();
            (
                table,
                self.stream(u32_at(root, 0x74).unwrap_or(FREE), size_of(root))?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        // calamine takes every stream under 4096 bytes from the mini stream,
        // whatever the header's cutoff says.
        if len >= 4096 {
            return self.stream(start, len);
        }
        let mut out = Vec::new();
        for id in Self::chain(&mini_fat, start)? {
            let at = id as usize * 64;
            out.extend_from_slice(
                mini.get(at..(at + 64).min(mini.len()))
                    .ok_or_else(|| bad("小扇区位置超出文件"))?,
            );
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        Ok(out)
    }
}

/// BIFF records from `at`: (type, data), CONTINUE records skipped, stopping at
/// the end of the stream or a record cut short (calamine refuses those).
fn records(stream: &[u8], at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = at;
    std::iter::from_fn(move || {
        loop {
            let typ = u16_at(stream, pos)?;
            let len = u16_at(stream, pos + 2)? as usize;
            let data = stream.get(pos + 4..pos + 4 + len)?;
            pos += 4 + len;
            if typ != 0x003C {
                return Some((typ, data));
            }
        }
    })
}

/// Cell records calamine keeps (blank cells it ignores are not counted).
fn cell_cols(typ: u16, data: &[u8]) -> Result<Option<(u32, u32, u32)>, XlsError> {
    match typ {
        // Number, Label, RString, BoolErr, Rk, LabelSst, Formula.
        0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
            match (u16_at(data, 0), u16_at(data, 2)) {
                (Some(r), Some(c)) => Ok(Some((r.into(), c.into(), c.into()))),
                _ => Err(bad("单元格记录过短")),
            }
        }
        // MulRk: a row of numbers from the first to the last column.
        0x00BD => {
            let (Some(r), Some(first), Some(last)) = (
                u16_at(data, 0),
                u16_at(data, 2),
                data.len().checked_sub(2).and_then(|at| u16_at(data, at)),
            ) else {
                return Err(bad("单元格记录过短"));
            };
            if last < first {
                return Err(bad("单元格记录的列范围颠倒"));
            }
            Ok(Some((r.into(), first.into(), last.into())))
        }
        _ => Ok(None),
    }
}

/// What has been seen of the workbook's sheets.
#[derive(Default)]
struct Tally {
    cells: usize,
    area: usize,
}

/// One sheet from its BoundSheet8 position: its DIMENSIONS and its cells.
fn check_sheet(stream: &[u8], at: usize, tally: &mut Tally) -> Result<(), XlsError> {
    let (mut rows, mut cols) = (0usize, 0usize);
    let mut seen_bof = false;
    let mut depth = 0usize;
    for (typ, data) in records(stream, at) {
        if depth > 0 {
            match typ {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        match typ {
            0x0809 if seen_bof => depth += 1,
            0x0809 => seen_bof = true,
            0x000A => break,
            0x0200 => {
                let (first, last, cl) = match data.len() {
                    10 => (
                        u16_at(data, 0).map(u32::from),
                        u16_at(data, 2).map(u32::from),
                        u16_at(data, 6).map(u32::from),
                    ),
                    14 | 16 => (
                        u32_at(data, 0),
                        u32_at(data, 4),
                        u16_at(data, 10).map(u32::from),
                    ),
                    _ => (None, None, None),
                };
                let (Some(first), Some(last), Some(cl)) = (first, last, cl) else {
                    return Err(bad("DIMENSIONS 记录长度无效"));
                };
                if last >= 1 && cl >= 1 && first > last - 1 {
                    return Err(bad("DIMENSIONS 记录的行范围颠倒"));
                }
                if over(last as usize, cl as usize) {
                    return Err(XlsError::TooLarge(format!(
                        "工作表声明的范围是 {last} 行 × {cl} 列"
                    )));
                }
            }
            _ => {
                let Some((r, c0, c1)) = cell_cols(typ, data)? else {
                    continue;
                };
                rows = rows.max(r as usize + 1);
                cols = cols.max(c1 as usize + 1);
                tally.cells += (c1 - c0) as usize + 1;
                if over(rows, cols) {
                    return Err(XlsError::TooLarge(format!(
                        "第 {} 行 {} 列有单元格",
                        r + 1,
                        column(c1 as usize + 1)
                    )));
                }
                if tally.cells > MAX_CELLS {
                    return Err(XlsError::TooLarge(format!(
                        "工作簿共有 {MAX_CELLS} 个以上的单元格"
                    )));
                }
            }
        }
    }
    tally.area += rows * cols;
    if tally.area > MAX_CELLS {
        return Err(XlsError::TooLarge(format!(
            "各工作表合计超过 {MAX_CELLS} 个单元格"
        )));
    }
    Ok(())
}

/// Checks an `.xls` before calamine opens it: every sheet's declared
/// (DIMENSIONS) and actual (cell records) size within the limits, all sheets
/// together at most [`MAX_CELLS`], and the sheet positions inside the stream.
pub fn check_bounds(bytes: &[u8]) -> Result<(), XlsError> {
    let stream = Compound::open(bytes)?.workbook()?;
    let mut sheets = Vec::new();
    for (typ, data) in records(&stream, 0) {
        match typ {
            0x000A => break,
            0x0085 => {
                let pos = u32_at(data, 0).ok_or_else(|| bad("工作表记录过短"))? as usize;
                if data.len() < 6 || pos >= stream.len() {
                    return Err(bad("工作表记录无效"));
                }
                sheets.push(pos);
            }
            _ => {}
        }
    }
    let mut tally = Tally::default();
    for pos in sheets {
        check_sheet(&stream, pos, &mut tally)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut v = typ.to_le_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    /// A workbook stream with one sheet holding `sheet` records.
    fn workbook(sheet: &[Vec<u8>]) -> Vec<u8> {
        let bof = record(0x0809, &[0u8; 16]);
        let mut globals = bof.clone();
        let bound_at = globals.len();
        globals.extend(record(0x0085, &[0, 0, 0, 0, 0, 0, 1, 0, b'S']));
        globals.extend(record(0x000A, &[]));
        let pos = globals.len() as u32;
        globals[bound_at + 4..bound_at + 8].copy_from_slice(&pos.to_le_bytes());
        globals.extend(bof);
        for r in sheet {
            globals.extend_from_slice(r);
        }
        globals.extend(record(0x000A, &[]));
        globals
    }

    fn cell(row: u16, col: u16) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend_from_slice(&col.to_le_bytes());
        d.extend_from_slice(&[0; 10]);
        record(0x0203, &d)
    }

    fn check(stream: &[u8]) -> Result<(), XlsError> {
        let mut sheets = Vec::new();
        for (typ, data) in records(stream, 0) {
            match typ {
                0x000A => break,
                0x0085 => sheets.push(u32_at(data, 0).unwrap() as usize),
                _ => {}
            }
        }
        let mut t = Tally::default();
        for p in sheets {
            check_sheet(stream, p, &mut t)?;
        }
        Ok(())
    }

    #[test]
    fn sheets_are_bounded_by_declared_and_actual_size() {
        assert_eq!(check(&workbook(&[cell(0, 0), cell(300, 20)])), Ok(()));
        let far = check(&workbook(&[cell(0, 0), cell(65_535, 255)])).unwrap_err();
        assert_eq!(far, XlsError::TooLarge("第 65536 行 IV 列有单元格".into()));
        let mut dims = 1_048_576u32.to_le_bytes().to_vec();
        dims.splice(0..0, 0u32.to_le_bytes());
        dims.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
        let declared = check(&workbook(&[record(0x0200, &dims)])).unwrap_err();
        assert!(matches!(declared, XlsError::TooLarge(ref m) if m.contains("1048576 行")));
        // Reversed ranges would underflow in the reader: refused.
        let mut rev = 9u32.to_le_bytes().to_vec();
        rev.extend_from_slice(&2u32.to_le_bytes());
        rev.extend_from_slice(&[0, 0, 1, 0, 0, 0]);
        assert!(matches!(
            check(&workbook(&[record(0x0200, &rev)])),
            Err(XlsError::Unreadable(_))
        ));
        let mulrk = record(0x00BD, &[0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert!(matches!(
            check(&workbook(&[mulrk])),
            Err(XlsError::Unreadable(_))
        ));
    }

    #[test]
    fn a_compound_file_that_is_not_one_is_refused() {
        let mut bytes = MAGIC.to_vec();
        bytes.resize(600, 0);
        assert!(matches!(check_bounds(&bytes), Err(XlsError::Unreadable(_))));
        assert!(check_bounds(b"\xd0\xcf\x11\xe0 short").is_err());
    }
}
