//! Evidence files (photos taken on site, scanned documents) stored
//! content-addressed: the file's SHA-256 is its name, so the same photo uploaded
//! twice is stored once and a report can prove which file it cites.
//!
//! Uploads are size-limited and type-checked by their content, not by what the
//! browser claims: JPEG, PNG, WebP, HEIC (phones) and PDF, and the file name's
//! extension must agree with the content. A file is written to a temporary name
//! and renamed into place, so a crash never leaves a half-written file under a
//! valid hash; reading verifies the hash again.
//!
//! The store never keeps a file no row refers to: an upload is checked
//! ([`EvidenceStore::check`]) without writing anything, and written only together
//! with the row that cites it ([`EvidenceStore::record`]: under the store's write
//! lock, and removed again if the row is refused). What a crash still leaves
//! behind, [`EvidenceStore::sweep`] removes when the server starts.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Largest evidence file accepted.
pub const MAX_EVIDENCE: usize = 10 << 20;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    pub sha256: String,
    pub mime: &'static str,
    pub size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("文件为空")]
    Empty,
    #[error(
        "文件过大（{size} 字节），证据文件上限为 {MAX_EVIDENCE} 字节（10 MiB）；请压缩照片或拆分文件"
    )]
    TooLarge { size: usize },
    #[error("不支持的文件类型：只接受照片（JPEG、PNG、WebP、HEIC）和 PDF")]
    Type,
    #[error("文件名“{name}”的扩展名与内容（{mime}）不符")]
    Mismatch { name: String, mime: &'static str },
    #[error("证据编号无效")]
    BadId,
    #[error("证据文件 {0} 已损坏（内容与其 SHA-256 不符）")]
    Corrupt(String),
    #[error("证据文件不存在")]
    Missing,
    #[error("无法写入证据文件：{0}")]
    Io(#[from] std::io::Error),
}

/// The type of a file by its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1" | b"msf1")
    {
        Some("image/heic")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

fn extension_ok(name: &str, mime: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match mime {
        "image/jpeg" => matches!(ext.as_str(), "jpg" | "jpeg"),
        "image/png" => ext == "png",
        "image/webp" => ext == "webp",
        "image/heic" => matches!(ext.as_str(), "heic" | "heif"),
        "application/pdf" => ext == "pdf",
        _ => false,
    }
}

/// Evidence files under one directory.
pub struct EvidenceStore {
    root: PathBuf,
    /// Held while a file and the row citing it are written, and while files are
    /// removed, so a removal never races a row that is about to cite the file.
    writes: tokio::sync::Mutex<()>,
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_sha(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl EvidenceStore {
    pub fn new(root: &Path) -> Self {
        EvidenceStore {
            root: root.to_path_buf(),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    fn path_of(&self, sha: &str) -> Result<PathBuf, EvidenceError> {
        if !is_sha(sha) {
            return Err(EvidenceError::BadId);
        }
        Ok(self.root.join(&sha[..2]).join(&sha[2..]))
    }

    /// Checks and stores `bytes` uploaded as `name` (tools and tests; the web
    /// application stores through [`EvidenceStore::record`]).
    pub fn put(&self, bytes: &[u8], name: &str) -> Result<Stored, EvidenceError> {
        let stored = self.check(bytes, name)?;
        self.write(bytes)?;
        Ok(stored)
    }

    /// Checks `bytes` uploaded as `name` as evidence (size, type by content, the
    /// extension) and names it by its hash, writing nothing.
    pub fn check(&self, bytes: &[u8], name: &str) -> Result<Stored, EvidenceError> {
        if bytes.is_empty() {
            return Err(EvidenceError::Empty);
        }
        if bytes.len() > MAX_EVIDENCE {
            return Err(EvidenceError::TooLarge { size: bytes.len() });
        }
        let mime = sniff(bytes).ok_or(EvidenceError::Type)?;
        if !extension_ok(name, mime) {
            return Err(EvidenceError::Mismatch {
                name: name.to_string(),
                mime,
            });
        }
        Ok(Stored {
            sha256: sha_hex(bytes),
            mime,
            size: bytes.len(),
        })
    }

    /// Stores any bytes under their SHA-256 (no type or size check: the caller
    /// has checked them), returning the hash. Used for survey files kept between
    /// an import's preview and its commit.
    pub fn put_any(&self, bytes: &[u8]) -> Result<String, EvidenceError> {
        self.write(bytes).map(|(sha, _)| sha)
    }

    /// Writes `bytes` under their hash; whether this call created the file (false:
    /// it was there already).
    fn write(&self, bytes: &[u8]) -> Result<(String, bool), EvidenceError> {
        let sha = sha_hex(bytes);
        let path = self.path_of(&sha)?;
        let created = !path.exists();
        if created {
            let dir = path.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{}.partial", &sha[2..]));
            {
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(bytes)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
        }
        Ok((sha, created))
    }

    /// Writes `bytes` and then `row`, the database write that cites the file, as
    /// one step: under the store's write lock, and when the row is refused, a file
    /// this call created is removed again. The outer error is the file's, the
    /// inner the row's.
    pub async fn record<T, E>(
        &self,
        bytes: &[u8],
        row: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, EvidenceError> {
        let _guard = self.writes.lock().await;
        let (sha, created) = self.write(bytes)?;
        let result = row.await;
        if result.is_err() && created {
            self.remove_file(&sha)?;
        }
        Ok(result)
    }

    fn remove_file(&self, sha: &str) -> Result<(), EvidenceError> {
        match std::fs::remove_file(self.path_of(sha)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a stored file (a pending upload that is done with).
    pub async fn remove(&self, sha: &str) -> Result<(), EvidenceError> {
        let _guard = self.writes.lock().await;
        self.remove_file(sha)
    }

    /// Every file under the store (stored files by hash, and left-over
    /// temporary files), with its age.
    fn files(&self) -> Vec<(PathBuf, Option<String>, Duration)> {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return out;
        };
        for dir in dirs.flatten() {
            let prefix = dir.file_name().to_string_lossy().to_string();
            let Ok(entries) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for e in entries.flatten() {
                let rest = e.file_name().to_string_lossy().to_string();
                let sha = format!("{prefix}{rest}");
                let age = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                out.push((e.path(), is_sha(&sha).then_some(sha), age));
            }
        }
        out
    }

    /// Removes every file older than `grace` that no row cites (`keep` holds the
    /// hashes rows cite), and temporary files a crash left behind. Younger files
    /// are left alone: another process may be about to cite them. Returns the
    /// removed files' names.
    pub async fn sweep(
        &self,
        keep: &HashSet<String>,
        grace: Duration,
    ) -> Result<Vec<String>, EvidenceError> {
        let _guard = self.writes.lock().await;
        let mut removed = Vec::new();
        for (path, sha, age) in self.files() {
            let cited = sha.as_ref().is_some_and(|s| keep.contains(s));
            if cited || age < grace {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path.display().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }

    /// Reads a stored file, verifying its hash.
    pub fn get(&self, sha: &str) -> Result<Vec<u8>, EvidenceError> {
        let path = self.path_of(sha)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EvidenceError::Missing);
            }
            Err(e) => return Err(e.into()),
        };
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if actual != sha {
            return Err(EvidenceError::Corrupt(sha.to_string()));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";

    #[test]
    fn stores_once_by_content_and_reads_back_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::new(dir.path());
        let a = store.put(PNG, "应急预案.png").unwrap();
        let b = store.put(PNG, "copy.PNG").unwrap();
        assert_eq!(a, b, "same content, same file");
        assert_eq!(a.mime, "image/png");
        assert_eq!(store.get(&a.sha256).unwrap(), PNG);
        let files: Vec<_> = walk(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        // Tampering is detected.
        std::fs::write(
            dir.path().join(&a.sha256[..2]).join(&a.sha256[2..]),
            b"changed",
        )
        .unwrap();
        assert!(matches!(
            store.get(&a.sha256),
            Err(EvidenceError::Corrupt(_))
        ));
    }

    fn walk(p: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }

    #[test]
    fn refuses_what_is_not_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::new(dir.path());
        assert!(matches!(store.put(b"", "x.pdf"), Err(EvidenceError::Empty)));
        let big = {
            let mut v = PDF.to_vec();
            v.resize(MAX_EVIDENCE + 1, b' ');
            v
        };
        assert!(matches!(
            store.put(&big, "big.pdf"),
            Err(EvidenceError::TooLarge { .. })
        ));
        let mut at_limit = PDF.to_vec();
        at_limit.resize(MAX_EVIDENCE, b' ');
        assert!(
            store.put(&at_limit, "limit.pdf").is_ok(),
            "exactly the limit is fine"
        );
        assert!(matches!(
            store.put(b"MZ\x90\0 an exe", "photo.jpg"),
            Err(EvidenceError::Type)
        ));
        assert!(matches!(
            store.put(b"<html><script>", "x.pdf"),
            Err(EvidenceError::Type)
        ));
        let e = store.put(PNG, "报告.pdf").unwrap_err();
        assert!(e.to_string().contains("扩展名"), "{e}");
        assert!(matches!(
            store.get("../../etc/passwd"),
            Err(EvidenceError::BadId)
        ));
        assert!(matches!(
            store.get(&"A".repeat(64)),
            Err(EvidenceError::BadId)
        ));
        assert!(matches!(
            store.get(&"a".repeat(64)),
            Err(EvidenceError::Missing)
        ));
        assert_eq!(
            walk(dir.path()).len(),
            1,
            "refused uploads leave nothing behind"
        );
    }

    /// A file is written only with the row that cites it: a refused row leaves no
    /// file (unless another row already cited it), and the sweep removes what no
    /// row cites once it is older than the grace period.
    #[tokio::test]
    async fn files_live_and_die_with_the_rows_that_cite_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::new(dir.path());
        let checked = store.check(PNG, "门头.png").unwrap();
        assert!(walk(dir.path()).is_empty(), "a check writes nothing");
        let refused: Result<(), &str> = store
            .record(PNG, async { Err("审核已关闭") })
            .await
            .unwrap();
        assert!(refused.is_err());
        assert!(walk(dir.path()).is_empty(), "a refused row leaves no file");
        let ok: Result<i64, &str> = store.record(PNG, async { Ok(1) }).await.unwrap();
        assert_eq!(ok, Ok(1));
        assert_eq!(store.get(&checked.sha256).unwrap(), PNG);
        // The same file refused for a second row stays: the first row cites it.
        let again: Result<(), &str> = store.record(PNG, async { Err("重复") }).await.unwrap();
        assert!(again.is_err());
        assert!(store.get(&checked.sha256).is_ok());
        // The sweep keeps what rows cite and young files; it removes the rest.
        let orphan = store.put_any(PDF).unwrap();
        let tmp = dir.path().join(&orphan[..2]).join(".leftover.partial");
        std::fs::write(&tmp, b"half").unwrap();
        let keep: HashSet<String> = [checked.sha256.clone()].into();
        assert!(
            store
                .sweep(&keep, Duration::from_secs(600))
                .await
                .unwrap()
                .is_empty()
        );
        let removed = store.sweep(&keep, Duration::ZERO).await.unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(matches!(store.get(&orphan), Err(EvidenceError::Missing)));
        assert!(!tmp.exists());
        assert!(store.get(&checked.sha256).is_ok());
    }

    #[test]
    fn sniffs_phone_formats() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some("image/heic"));
        assert_eq!(sniff(b"GIF89a"), None);
    }
}
