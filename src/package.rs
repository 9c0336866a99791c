//! Zip packages (.docx, .xlsx) read within bounds.
//!
//! A zip entry inflates up to about a thousand times its stored size, and the size
//! an entry declares is not what inflating it gives, so neither the upload limit
//! nor the declared sizes bound what a reader holds. Every package the product
//! reads goes through [`Package`]: the number of entries is bounded, every part
//! is inflated through a counter that stops at the part limit, and the parts read
//! from one package share a total budget. A package over a limit is refused with
//! the part named; nothing is read past the limit.

use std::io::{Cursor, Read};

/// What one package may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries in the zip directory.
    pub entries: usize,
    /// Inflated bytes of one part.
    pub part: u64,
    /// Inflated bytes of all the parts read, together.
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("无法作为 zip 包读取（{0}）")]
    NotZip(String),
    #[error("包含 {entries} 个部件，超过 {max} 个的上限")]
    TooManyEntries { entries: usize, max: usize },
    #[error("中的 {part} 解压后超过 {} MiB 的上限，拒绝读取", mib(*.max))]
    PartTooLarge { part: String, max: u64 },
    #[error("解压后的总大小超过 {} MiB 的上限，拒绝读取", mib(*.max))]
    TooLarge { max: u64 },
    #[error("中的 {part} 已损坏（{message}）")]
    Corrupt { part: String, message: String },
    #[error("中的 {part} 不是 UTF-8 文本")]
    NotText { part: String },
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// An open package and what has been inflated from it so far.
pub struct Package<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    limits: Limits,
    inflated: u64,
}

/// A reader that fails once more than `left` bytes come through it.
struct Counted<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte over the limit is enough to know it is over.
        let want = (buf.len() as u64).min(self.left.saturating_add(1)) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(Over));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The error [`Counted`] stops with.
#[derive(Debug)]
struct Over;

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("over the limit")
    }
}

impl std::error::Error for Over {}

/// Whether `e` is (or wraps, as quick-xml does) the limit of a [`Counted`] reader.
fn is_over(e: &std::io::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|i| i as _);
    while let Some(c) = cur {
        if c.is::<Over>() {
            return true;
        }
        cur = match c.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|i| i as _),
            None => c.source(),
        };
    }
    false
}

/// A quick-xml error met while streaming a part, as the `io::Error` a
/// [`Package::stream`] consumer returns; a part over the limit stays recognisable
/// as such.
pub fn xml_io_error(e: quick_xml::Error) -> std::io::Error {
    match e {
        quick_xml::Error::Io(io) => std::io::Error::new(io.kind(), Shared(io)),
        other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
    }
}

/// An `io::Error` quick-xml shares (`Arc`), kept as the source of a new one.
#[derive(Debug)]
struct Shared(std::sync::Arc<std::io::Error>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

impl<'a> Package<'a> {
    /// Opens a package, refusing one with more than `limits.entries` entries.
    pub fn open(bytes: &'a [u8], limits: Limits) -> Result<Package<'a>, PackageError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| PackageError::NotZip(e.to_string()))?;
        if zip.len() > limits.entries {
            return Err(PackageError::TooManyEntries {
                entries: zip.len(),
                max: limits.entries,
            });
        }
        Ok(Package {
            zip,
            limits,
            inflated: 0,
        })
    }

    /// Inflates the part at `index` through `consume`, which sees at most the
    /// part limit (and what is left of the total); more is an error.
    fn inflate_at<T>(
        &mut self,
        index: usize,
        consume: impl FnOnce(&mut dyn Read) -> std::io::Result<T>,
    ) -> Result<(String, T), PackageError> {
        let file = self
            .zip
            .by_index(index)
            .map_err(|e| PackageError::NotZip(e.to_string()))?;
        let part = file.name().to_string();
        let total_left = self.limits.total.saturating_sub(self.inflated);
        let left = self.limits.part.min(total_left);
        let mut counted = Counted { inner: file, left };
        let result = consume(&mut counted);
        let used = left - counted.left;
        self.inflated += used;
        match result {
            Ok(t) => Ok((part, t)),
            Err(e) if is_over(&e) && total_left < self.limits.part => Err(PackageError::TooLarge {
                max: self.limits.total,
            }),
            Err(e) if is_over(&e) => Err(PackageError::PartTooLarge {
                part,
                max: self.limits.part,
            }),
            Err(e) => Err(PackageError::Corrupt {
                part,
                message: e.to_string(),
            }),
        }
    }

    /// The part named `name` as text, or `None` when the package has no such part.
    pub fn text(&mut self, name: &str) -> Result<Option<String>, PackageError> {
        let Some(index) = self.zip.index_for_name(name) else {
            return Ok(None);
        };
        let (part, bytes) = self.inflate_at(index, |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)?;
            Ok(v)
        })?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| PackageError::NotText { part })
    }

    /// Streams the part named `name` through `consume` (bounded like
    /// [`Package::text`]); `None` when there is no such part.
    pub fn stream<T>(
        &mut self,
        name: &str,
        consume: impl FnOnce(&mut dyn Read) -> std::io::Result<T>,
    ) -> Result<Option<T>, PackageError> {
        let Some(index) = self.zip.index_for_name(name) else {
            return Ok(None);
        };
        self.inflate_at(index, consume).map(|(_, t)| Some(t))
    }

    /// Inflates every part (and discards it), so a package whose parts inflate
    /// past the limits is refused before another library reads it whole.
    pub fn check_all(&mut self) -> Result<(), PackageError> {
        for i in 0..self.zip.len() {
            self.inflate_at(i, |r| std::io::copy(r, &mut std::io::sink()))?;
        }
        Ok(())
    }

    /// The names of the parts.
    pub fn names(&self) -> Vec<String> {
        self.zip.file_names().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            for (name, bytes) in parts {
                z.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                z.write_all(bytes).unwrap();
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    const SMALL: Limits = Limits {
        entries: 3,
        part: 1000,
        total: 1500,
    };

    #[test]
    fn parts_and_totals_are_bounded_by_what_inflates() {
        let big = vec![b'a'; 1001];
        let bytes = zip_of(&[("a.xml", b"<a/>"), ("big.xml", &big)]);
        let mut p = Package::open(&bytes, SMALL).unwrap();
        assert_eq!(p.text("a.xml").unwrap().as_deref(), Some("<a/>"));
        assert!(p.text("none.xml").unwrap().is_none());
        let e = p.text("big.xml").unwrap_err();
        assert!(
            matches!(&e, PackageError::PartTooLarge { part, max: 1000 } if part == "big.xml"),
            "{e:?}"
        );
        assert!(e.to_string().contains("big.xml"), "{e}");
        // Exactly the limit is fine; together two such parts are over the total.
        let at = vec![b'a'; 1000];
        let bytes = zip_of(&[("x.xml", &at), ("y.xml", &at)]);
        let mut p = Package::open(&bytes, SMALL).unwrap();
        assert!(p.text("x.xml").unwrap().is_some());
        assert!(matches!(
            p.text("y.xml").unwrap_err(),
            PackageError::TooLarge { max: 1500 }
        ));
        assert!(matches!(
            Package::open(&bytes, SMALL).unwrap().check_all(),
            Err(PackageError::TooLarge { .. })
        ));
        // Too many entries, and not a zip at all.
        let bytes = zip_of(&[("1", b""), ("2", b""), ("3", b""), ("4", b"")]);
        assert!(matches!(
            Package::open(&bytes, SMALL),
            Err(PackageError::TooManyEntries { entries: 4, max: 3 })
        ));
        assert!(matches!(
            Package::open(b"PK not really", SMALL),
            Err(PackageError::NotZip(_))
        ));
    }
}
