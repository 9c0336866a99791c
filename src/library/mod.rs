//! The standards library: a git repository holding one Markdown file per edition.
//!
//! Every publication is a commit authored by the approver; every new edition gets an
//! annotated tag (`T-ZTAC-001.2-2023`). Reads always come from commits, never from the
//! work tree, so a publish in progress is invisible until its commit exists.
//!
//! Publishing is serialised by an in-process mutex and a lock file (other processes),
//! and journaled: the journal is written before any file, and removed after the commit.
//! On open, a leftover journal means a crash between write and commit: the written
//! files are rolled back to HEAD (the publisher never got a revision, so nothing that
//! was acknowledged is lost), and the rollback is logged.

pub mod changes;
pub mod diff;
mod store;

pub use store::{
    Author, ClauseHistory, ClauseRevision, HistoryEntry, Library, LibraryError, PublishRequest,
    Recovery, Revision, format_time,
};

/// Tag name of an edition: `T/ZTAC 001.2—2023` → `T-ZTAC-001.2-2023`.
pub fn tag_name(code: &crate::standard::Code) -> String {
    let mut out = String::new();
    for ch in code.to_string().chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}
