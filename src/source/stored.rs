//! Database rows into model batches (a worker's side of [`super::load_sqlite`]). A store row
//! with a layout (schema V2, see [`crate::store::layout`]) becomes its event straight from the
//! slices the layout names; every other row (a V1 row, a warehouse row, a layout that does not
//! fit its text) is parsed. Both make the same model.

use super::pipeline::{Chunk, RowRef};
use super::visit::{Place, Visit};
use crate::model::batch::{EventHashes, EventParts, PREFETCH_TEXT};
use crate::model::table::prefetch_bytes;
use crate::model::{Batch, CallMark, KnownSnapshots, LocalTables, Origin, Problem, ProblemKind};
use crate::store::{self, layout};

/// Batches of rows in row order, a new one wherever the calls' mark (loaded, sent, local)
/// changes.
struct MarkedBatches {
    done: Vec<(Batch, CallMark)>,
    batch: Batch,
    mark: CallMark,
    source: u16,
}

impl MarkedBatches {
    /// The batch for an event of a row that got into the store this way.
    fn for_event(&mut self, store_origin: Option<store::Origin>) -> &mut Batch {
        let mark = match store_origin {
            Some(store::Origin::Sent) => CallMark::Sent,
            Some(store::Origin::Local) => CallMark::Local,
            _ => CallMark::Loaded,
        };
        if mark != self.mark && self.batch.lines > 0 {
            let next = Batch::with_tables(self.batch.take_tables());
            self.done
                .push((std::mem::replace(&mut self.batch, next), self.mark));
        }
        self.mark = mark;
        &mut self.batch
    }

    /// Counts one event (or problem) of the row `place` in `batch`, with its problem if any.
    fn count(batch: &mut Batch, source: u16, place: Place, problem: Option<ProblemKind>) {
        batch.lines += 1;
        if let Some(error) = problem {
            batch.push_problem(Problem {
                source,
                line: row_of(place).1.max(0) as u64,
                error,
            });
        }
    }

    /// One event or problem of a parsed row.
    fn visit(&mut self, v: Visit<'_>, known: &KnownSnapshots) {
        let source = self.source;
        match v {
            Visit::Event {
                place,
                event,
                store_origin,
            } => {
                let batch = self.for_event(store_origin);
                let result = batch.push_event(event, origin_of(source, place), known);
                Self::count(batch, source, place, result.err().map(ProblemKind::Traits));
            }
            // A problem goes to the current batch, whatever its mark.
            Visit::Problem { place, why } => {
                Self::count(
                    &mut self.batch,
                    source,
                    place,
                    Some(ProblemKind::Input(why)),
                );
            }
            Visit::Source { .. } => {}
        }
    }

    /// A store row's event through its layout, hashed ahead (see [`Batch::hash_ahead`]);
    /// `None` when the layout does not fit the row's text.
    fn decode<'d>(&self, row: &RowRef, data: &'d [u8]) -> Option<(EventParts<'d>, EventHashes)> {
        let layout = row.layout(data)?;
        let parts = layout::decode(layout, row.text(data))?;
        let hashes = self.batch.hash_ahead(&parts);
        Some((parts, hashes))
    }

    /// Adds a row: its decoded event, or else what parsing its text gives.
    fn push_row(
        &mut self,
        row: &RowRef,
        data: &[u8],
        decoded: Option<(EventParts<'_>, EventHashes)>,
        known: &KnownSnapshots,
    ) {
        let Some((parts, hashes)) = decoded else {
            row.visit(data, &mut |v| self.visit(v, known));
            return;
        };
        let source = self.source;
        let place = Place::Row {
            table: row.table,
            rowid: row.rowid,
        };
        let batch = self.for_event(row.origin);
        let result = batch.push_parts_hashed(&parts, origin_of(source, place), &hashes);
        Self::count(batch, source, place, result.err().map(ProblemKind::Traits));
    }
}

/// Rows decoded before they are added, so the table lines their lookups need have arrived.
const AHEAD: usize = 8;

/// Parses a chunk of database rows into batches, a new batch wherever the calls' mark
/// (loaded, sent, local) changes.
pub(super) fn parse_rows(
    tables: &mut Option<LocalTables>,
    chunk: &Chunk,
    source: u16,
    known: &KnownSnapshots,
) -> Vec<(Batch, CallMark)> {
    let mut out = MarkedBatches {
        done: Vec::new(),
        batch: Batch::with_tables(tables.take().unwrap_or_default()),
        mark: CallMark::Loaded,
        source,
    };
    out.batch.know(known);
    match chunk {
        Chunk::Rows { data, rows } => {
            let mut ahead = std::collections::VecDeque::with_capacity(AHEAD + 1);
            let mut fetched = 0;
            for (i, row) in rows.iter().enumerate() {
                // The rows lie back to back in `data`, which spans many pages.
                let end = row.start as usize + row.len as usize + row.layout_len as usize;
                prefetch_bytes(data, &mut fetched, end + PREFETCH_TEXT);
                ahead.push_back((i, out.decode(row, data)));
                if ahead.len() > AHEAD
                    && let Some((j, decoded)) = ahead.pop_front()
                {
                    out.push_row(&rows[j], data, decoded, known);
                }
            }
            for (j, decoded) in ahead {
                out.push_row(&rows[j], data, decoded, known);
            }
        }
        other => {
            other.visit(&mut |v| out.visit(v, known));
        }
    }
    *tables = Some(out.batch.take_tables());
    out.done.push((out.batch, out.mark));
    out.done
}

/// Where a database row's calls came from: the row id is the offset, the table the length.
fn origin_of(source: u16, place: Place) -> Origin {
    let (table, rowid) = row_of(place);
    Origin {
        source,
        line: 0,
        offset: rowid.max(0) as u64,
        len: u32::from(table),
    }
}

/// The table and row id of a database place (a line number for a text place).
fn row_of(place: Place) -> (u8, i64) {
    match place {
        Place::Row { table, rowid } => (table, rowid),
        Place::Line { line, .. } => (0, line as i64),
    }
}
