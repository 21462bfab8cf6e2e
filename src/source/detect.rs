//! What an input is: its format told from its first bytes, and paths expanded into files.

use std::path::{Path, PathBuf};

use super::LoadError;

/// What the bytes at the start of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// gzip magic bytes.
    Gzip,
    /// The SQLite header.
    Sqlite,
    /// Text whose first non-blank byte is `[`, or a `{` on a line of its own: one document.
    JsonDocument,
    /// Text starting with `{`: one event per line.
    JsonLines,
    /// Empty (or only whitespace).
    Empty,
    /// Anything else.
    Unknown,
}

/// Detects an input's format from its first bytes (at least a few KB when available).
pub fn detect(head: &[u8]) -> Detected {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Detected::Gzip;
    }
    if head.starts_with(b"SQLite format 3\0") {
        return Detected::Sqlite;
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(first) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Detected::Empty;
    };
    match head[first] {
        b'[' => Detected::JsonDocument,
        b'{' => {
            // A pretty-printed body opens with `{` alone on its line.
            let rest = &head[first + 1..];
            let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            if rest[..line_end].iter().all(|b| b.is_ascii_whitespace()) && line_end < rest.len() {
                Detected::JsonDocument
            } else {
                Detected::JsonLines
            }
        }
        // Not JSON at all, but still a text file of lines: each gets reported.
        b'"' | b'0'..=b'9' | b'-' | b't' | b'f' | b'n' => Detected::JsonLines,
        _ => Detected::Unknown,
    }
}

/// Expands directories (recursively, sorted, hidden entries skipped) into files; keeps `-`.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(p.clone());
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|source| LoadError::Unreadable {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk_dir(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk_dir(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}
