//! [`TaskRows`]: the rows of a task table, short tasks (the requests of
//! one connection) named and aged in a list of their own behind one lock,
//! instead of a registry entry each. The table's one registry entry names
//! its rows (`meta::TaskName::Rows`), and a report reads them through it.
//!
//! Invariants:
//! - a row is live from [`start`](TaskRows::start) to
//!   [`end`](TaskRows::end) of the index `start` gave, which the caller
//!   ends exactly once; an ended row's index goes on the free list and
//!   its name's buffer is kept for the next task (unless it grew past
//!   [`KEPT_NAME`]), so a table that has served a few tasks allocates
//!   nothing per task;
//! - the rows' lock is a leaf: nothing is locked while it is held. A
//!   report takes it inside a registry shard's lock (the table's entry is
//!   listed there); the rows' owners never take a shard's lock while they
//!   hold it.

use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;

use super::meta::Started;
use crate::report::TaskInfo;
use crate::sync::Mutex;

/// A row's name buffer longer than this is not kept for the next task:
/// it would stay that large for the table's life.
const KEPT_NAME: usize = 256;

/// The rows of one task table: live ones and free ones, by index.
pub(crate) struct TaskRows {
    inner: Mutex<Rows>,
}

struct Rows {
    rows: Vec<Row>,
    /// Indices of the rows that are not live.
    free: Vec<usize>,
}

struct Row {
    name: String,
    started: Started,
    live: bool,
}

impl TaskRows {
    pub(crate) fn new() -> Self {
        TaskRows {
            inner: Mutex::new(Rows {
                rows: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    /// Starts a task named by `name` (written into a reused buffer,
    /// cleared first), its age from now; returns its row's index.
    pub(crate) fn start(&self, name: impl FnOnce(&mut String)) -> usize {
        let started = Started::now();
        let mut rows = self.inner.lock();
        let Rows { rows, free } = &mut *rows;
        let index = match free.pop() {
            Some(index) => index,
            None => {
                // One row at first: most connections never have two
                // requests in flight (then the `Vec`'s own growth).
                rows.reserve_exact(usize::from(rows.capacity() == 0));
                rows.push(Row {
                    name: String::new(),
                    started: Started::NOT_YET,
                    live: false,
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[index];
        row.name.clear();
        name(&mut row.name);
        row.started = started;
        row.live = true;
        index
    }

    /// Ends the task in row `index`; with `report`, returns it as it was
    /// (name, location, age), to be recorded.
    pub(crate) fn end(
        &self,
        index: usize,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        let mut rows = self.inner.lock();
        let Rows { rows, free } = &mut *rows;
        let row = rows.get_mut(index)?;
        debug_assert!(row.live, "a task row ended twice");
        let info = report.then(|| row.info(location));
        row.live = false;
        if row.name.capacity() > KEPT_NAME {
            row.name = String::new();
        }
        free.reserve_exact(usize::from(free.capacity() == 0));
        free.push(index);
        info
    }

    /// Pushes each live row (when it started, and as a task) onto `into`.
    pub(crate) fn collect(
        &self,
        location: &'static Location<'static>,
        into: &mut Vec<(Started, TaskInfo)>,
    ) {
        let rows = self.inner.lock();
        into.extend(
            rows.rows
                .iter()
                .filter(|row| row.live)
                .map(|row| (row.started, row.info(location))),
        );
    }

    /// How many rows are live.
    pub(crate) fn live(&self) -> usize {
        let rows = self.inner.lock();
        rows.rows.len() - rows.free.len()
    }
}

impl Row {
    fn info(&self, location: &'static Location<'static>) -> TaskInfo {
        TaskInfo {
            name: self.name.clone().into(),
            location,
            age: self.started.age(),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn capacity(rows: &TaskRows, index: usize) -> usize {
        rows.inner.lock().rows[index].name.capacity()
    }

    #[test]
    fn rows_are_reused_and_long_names_buffers_are_not_kept() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let first = rows.start(|name| name.push_str("GET /a"));
        assert_eq!(rows.end(first, true, here).unwrap().name, "GET /a");
        // The freed row, and its buffer, are the next task's.
        let second = rows.start(|name| name.push_str("GET /b"));
        assert_eq!(second, first);
        assert!(rows.end(second, false, here).is_none());

        let long = rows.start(|name| name.push_str(&"x".repeat(KEPT_NAME + 1)));
        assert!(capacity(&rows, long) > KEPT_NAME);
        rows.end(long, false, here);
        assert_eq!(capacity(&rows, long), 0, "it would stay that large");
        assert_eq!(rows.live(), 0);
    }
}
