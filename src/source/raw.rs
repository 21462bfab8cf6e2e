//! Reading one event's raw JSON back from where it was loaded (a file's byte range, a gzip
//! stream's offset, a store row, a warehouse row), for the explorer's raw-call view.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;

use super::warehouse;
use crate::model::{Origin, SourceInfo, SourceKind};

/// Why a raw event could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// The source is gone or unreadable now.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A database source failed.
    #[error("{0}")]
    Database(String),
    /// No such source.
    #[error("unknown source {0}")]
    NoSource(u16),
}

/// Reads one event's raw JSON back from where it was loaded.
pub fn read_raw(sources: &[SourceInfo], origin: Origin) -> Result<String, RawError> {
    let src = sources
        .get(origin.source as usize)
        .ok_or(RawError::NoSource(origin.source))?;
    let io_err = |source| RawError::Io {
        path: src.path.clone(),
        source,
    };
    match &src.kind {
        SourceKind::Stdin => {
            let data = src.memory.as_deref().map_or(&[][..], Vec::as_slice);
            let start = (origin.offset as usize).min(data.len());
            let end = (start + origin.len as usize).min(data.len());
            Ok(String::from_utf8_lossy(&data[start..end]).into_owned())
        }
        SourceKind::Jsonl { gzip: false } | SourceKind::Document { gzip: false } => {
            let mut buf = vec![0u8; origin.len as usize];
            let mut f = File::open(&src.path).map_err(io_err)?;
            f.seek(SeekFrom::Start(origin.offset)).map_err(io_err)?;
            f.read_exact(&mut buf).map_err(io_err)?;
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        SourceKind::Jsonl { gzip: true } | SourceKind::Document { gzip: true } => {
            let f = File::open(&src.path).map_err(io_err)?;
            let mut gz = MultiGzDecoder::new(BufReader::new(f));
            io::copy(&mut (&mut gz).take(origin.offset), &mut io::sink()).map_err(io_err)?;
            let mut buf = vec![0u8; origin.len as usize];
            gz.read_exact(&mut buf).map_err(io_err)?;
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        SourceKind::Store => {
            let store = crate::store::Store::open_read_only(&src.path)
                .map_err(|e| RawError::Database(e.to_string()))?;
            store
                .raw_event(origin.offset as i64)
                .map_err(|e| RawError::Database(e.to_string()))?
                .ok_or_else(|| {
                    RawError::Database(format!(
                        "row {} is gone from {}",
                        origin.offset,
                        src.path.display()
                    ))
                })
        }
        SourceKind::Warehouse => {
            let table = if origin.len == 1 {
                "identifies"
            } else {
                "groups"
            };
            warehouse::warehouse_row_json(&src.path, table, origin.offset as i64)
                .map_err(|e| RawError::Database(e.to_string()))
        }
    }
}
