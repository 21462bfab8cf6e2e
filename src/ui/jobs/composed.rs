//! The calls composed in groupscope (sent, or kept locally) join the model as one more source,
//! marked as such, so they show in the tree even while another input is browsed.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::model::{Batch, CallMark, Model, ModelBuilder, Origin, SourceInfo, SourceKind};
use crate::source::{self, LoadError, LoadOptions, LoadProgress};
use crate::store::{self, Store};

/// Loads `paths`, then the calls composed in groupscope (sent or kept locally) from the store at
/// `composed`, marked as such; see [`load_composed`]. While `paths` are read, the builder is
/// offered to `on_partial` on [`source::load_progressive`]'s schedule, so the tree can fill as
/// data arrives.
pub fn load_with_composed(
    paths: &[PathBuf],
    composed: Option<&Path>,
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
    on_partial: &mut dyn FnMut(&ModelBuilder) -> ControlFlow<()>,
) -> Result<Model, LoadError> {
    let mut builder = ModelBuilder::new();
    source::load_progressive_into(&mut builder, paths, options, progress, on_partial)?;
    if let Some(path) = composed {
        // The explorer works without the store's calls; a broken store shows in the outbox.
        let _ = load_composed(&mut builder, path);
    }
    Ok(builder.finish())
}

/// Adds the store's composed calls (origin `sent` or `local`) to `builder` as one more source,
/// so they show in the tree marked as sent or local even when browsing another input. Adds
/// nothing (and no source) when there are none. Returns how many were added.
pub fn load_composed(builder: &mut ModelBuilder, path: &Path) -> Result<usize, String> {
    if !Store::is_store(path) {
        return Ok(0);
    }
    let store = Store::open_read_only(path).map_err(|e| e.to_string())?;
    let mut rows: Vec<(i64, String, CallMark)> = Vec::new();
    store
        .for_each_event(|rowid, raw, origin| {
            let mark = match origin {
                store::Origin::Sent => CallMark::Sent,
                store::Origin::Local => CallMark::Local,
                _ => return,
            };
            rows.push((rowid, raw.to_owned(), mark));
        })
        .map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Ok(0);
    }
    let source = builder.add_source(SourceInfo {
        path: path.to_path_buf(),
        kind: SourceKind::Store,
        memory: None,
    });
    let known = builder.known_snapshots();
    let mut batch = Batch::new();
    let mut mark = rows[0].2;
    for (rowid, raw, row_mark) in &rows {
        if *row_mark != mark {
            builder.add_marked_batch(std::mem::take(&mut batch), mark);
            mark = *row_mark;
        }
        let origin = Origin {
            source,
            line: 0,
            offset: u64::try_from(*rowid).unwrap_or(0),
            len: 0,
        };
        batch.lines += 1;
        crate::event::parse_text(raw.as_bytes(), &mut |event| {
            if let Ok(event) = event {
                // A composed call was valid when it was made; a failure here only skips it.
                let _ = batch.push_event(&event, origin, &known);
            }
        });
    }
    builder.add_marked_batch(batch, mark);
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::dispatch::new_event;
    use serde_json::Value;

    #[test]
    fn composed_calls_join_the_model_marked_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        let sent = r#"{"type":"group","messageId":"s1","userId":"alice","groupId":"g-acme","timestamp":"2025-01-01T00:00:00.000Z","traits":{"plan":"growth"}}"#;
        let local = r#"{"type":"group","messageId":"l1","userId":"zed","groupId":"g-new","timestamp":"2025-01-02T00:00:00.000Z","traits":{"name":"New"}}"#;
        let imported =
            r#"{"type":"group","messageId":"i1","userId":"x","groupId":"g-imp","traits":{}}"#;
        let event = |raw: &str| serde_json::from_str::<Value>(raw).unwrap();
        let (sv, lv, iv) = (event(sent), event(local), event(imported));
        store
            .import([new_event(&iv, imported, store::Origin::Imported)])
            .unwrap();
        store
            .mark_sent(&new_event(&sv, sent, store::Origin::Sent))
            .unwrap();
        store
            .save_local(&new_event(&lv, local, store::Origin::Local))
            .unwrap();
        drop(store);

        let mut builder = ModelBuilder::new();
        crate::ui::testdata::add_text(&mut builder, crate::ui::testdata::EVENTS);
        assert_eq!(load_composed(&mut builder, &path), Ok(2));
        let m = builder.finish();
        assert_eq!(m.sources().len(), 2);
        assert!(
            m.find_group("g-imp").is_none(),
            "imported rows are not composed"
        );
        let acme = m.find_group("g-acme").unwrap();
        let newest = m.group_calls(acme).last().unwrap().1;
        assert_eq!(newest.mark, CallMark::Sent);
        assert_eq!(m.group_trait(acme, "plan"), Some("\"growth\""));
        let new = m.find_group("g-new").unwrap();
        assert_eq!(m.group_calls(new).last().unwrap().1.mark, CallMark::Local);
        let raw = source::read_raw(m.sources(), newest.origin).unwrap();
        assert!(raw.contains("\"growth\""), "{raw}");
        // An empty or missing store adds no source.
        let mut builder = ModelBuilder::new();
        assert_eq!(
            load_composed(&mut builder, &dir.path().join("none.db")),
            Ok(0)
        );
        assert!(builder.finish().sources().is_empty());
    }
}
