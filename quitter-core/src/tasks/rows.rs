//! [`TaskRows`]: the rows of a task table, short tasks (the requests of
//! one connection) named and aged in a list of their own, instead of a
//! registry entry each: a first row taken without a lock whenever it is
//! free ([`FirstRow`]: not live, and not being read by a report; a
//! connection with one request in flight at a time almost always uses it
//! alone), [`MORE_ROWS`] more such rows, made the first time a task
//! starts while the first row is not free (an HTTP/2 connection's
//! streams in flight at once), and rows behind one lock for the tasks
//! that start while none of those is free. The table's one registry entry
//! names its rows (`meta::TaskName::Rows`), and a report reads them
//! through it.
//!
//! Invariants:
//! - a start takes the first row if it is free, else one of the more
//!   lock-free rows, else a locked row; the [`RowTicket`] it gives says
//!   which, and the end (which takes the ticket: a task ends once) goes to
//!   the same row;
//! - the more lock-free rows are made once (a [`OnceCell`]) and kept for
//!   the table's life: a ticket for one of them always finds it;
//! - a locked row is live from [`start`](TaskRows::start) to
//!   [`end`](TaskRows::end); an ended row's index goes on the free list
//!   and its name's buffer is kept for the next task (unless it grew past
//!   [`KEPT_NAME`]), so the locked rows allocate nothing per task once
//!   they have had as many tasks at once (up to twice [`KEPT_ROWS`]);
//! - what a burst leaves is bounded: once no locked row is live (the
//!   first row may be), more than twice [`KEPT_ROWS`] locked rows are cut
//!   to the first [`KEPT_ROWS`];
//! - the rows' lock is a leaf, and runs no caller's code: a name is given
//!   as parts that are copied in (nothing under the lock can panic, short
//!   of running out of memory, or lock anything). A report or a count takes
//!   it inside a registry shard's lock (the table's entry is listed
//!   there).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;

use super::clock::TaskStart;
use super::first_row::{FirstRow, FirstTicket};
use crate::report::TaskInfo;
use crate::sync::{Mutex, OnceCell};

/// A row's name buffer longer than this is not kept for the next task:
/// it would stay that large for the table's life.
pub(crate) const KEPT_NAME: usize = 256;

/// Writes a task's name, `parts` one after another, into `name` (its
/// buffer reused): the first row's and the locked rows' alike.
#[inline]
pub(crate) fn write_name<const N: usize>(name: &mut String, parts: [&str; N]) {
    name.clear();
    name.reserve(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        name.push_str(part);
    }
}

/// Frees `name`'s buffer if it grew past [`KEPT_NAME`] (an ended task's:
/// it would stay that large for the table's life).
#[inline]
pub(crate) fn shed_long_name(name: &mut String) {
    if name.capacity() > KEPT_NAME {
        *name = String::new();
    }
}

/// Rows kept once none is live, of a table that had more than twice as
/// many (a burst of requests in flight at once leaves no more; a table
/// of up to twice as many keeps them all, so bursts of that size do not
/// allocate again each time).
const KEPT_ROWS: usize = 16;

/// Lock-free rows beyond the first, made the first time a task starts
/// while the first row is not free: with it, as many tasks at once as a
/// browser opens streams on one HTTP/2 connection start and end without
/// the lock. (Each row is one [`FirstRow`], 48 bytes.)
pub(crate) const MORE_ROWS: usize = 15;

/// The rows of one task table: live ones and free ones, by index.
pub(crate) struct TaskRows {
    /// Taken first, without the lock, whenever it is free.
    first: FirstRow,
    /// Taken without the lock when the first row is not free.
    more: OnceCell<Box<[FirstRow; MORE_ROWS]>>,
    inner: Mutex<Rows>,
}

/// Which row a task is in: what [`TaskRows::start`] gives and
/// [`TaskRows::end`] takes (not `Clone`: a task ends once).
#[must_use = "the task stays live until its end takes this"]
#[derive(Debug)]
pub(crate) enum RowTicket {
    /// The lock-free first row.
    First(FirstTicket),
    /// One of the more lock-free rows, by index.
    More(usize, FirstTicket),
    /// A locked row, by index.
    Locked(usize),
}

struct Rows {
    rows: Vec<Row>,
    /// Indices of the rows that are not live.
    free: Vec<usize>,
}

struct Row {
    name: String,
    started: TaskStart,
    live: bool,
}

impl TaskRows {
    pub(crate) fn new() -> Self {
        TaskRows {
            first: FirstRow::new(),
            more: OnceCell::new(),
            inner: Mutex::new(Rows {
                rows: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    /// Starts a task named by `parts`, one after another (copied into a
    /// reused buffer), its age from now; returns which row it is in.
    #[inline]
    pub(crate) fn start<const N: usize>(&self, parts: [&str; N]) -> RowTicket {
        let started = TaskStart::now();
        match self.first.start(parts, started) {
            Some(ticket) => RowTicket::First(ticket),
            None => self.start_more(parts, started),
        }
    }

    /// [`start`](Self::start) in one of the more lock-free rows (made now
    /// if they are not yet), or in a locked row if none is free.
    #[inline(never)]
    fn start_more<const N: usize>(&self, parts: [&str; N], started: TaskStart) -> RowTicket {
        let more = self
            .more
            .get_or_init(|| Box::new(core::array::from_fn(|_| FirstRow::new())));
        for (index, row) in more.iter().enumerate() {
            // A load first: a taken row is passed over without a write.
            if row.is_free() {
                if let Some(ticket) = row.start(parts, started) {
                    return RowTicket::More(index, ticket);
                }
            }
        }
        RowTicket::Locked(self.start_locked(parts, started))
    }

    /// [`start`](Self::start) in a locked row.
    #[inline(never)]
    fn start_locked<const N: usize>(&self, parts: [&str; N], started: TaskStart) -> usize {
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
                    started: TaskStart::NOT_YET,
                    live: false,
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[index];
        write_name(&mut row.name, parts);
        row.started = started;
        row.live = true;
        index
    }

    /// Ends the task `row` stands for; with `report`, returns it as it was
    /// (name, location, age), to be recorded.
    #[inline]
    pub(crate) fn end(
        &self,
        row: RowTicket,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        match row {
            RowTicket::First(ticket) => self.first.end(ticket, report, location),
            RowTicket::More(index, ticket) => self.end_more(index, ticket, report, location),
            RowTicket::Locked(index) => self.end_locked(index, report, location),
        }
    }

    /// [`end`](Self::end) of one of the more lock-free rows.
    #[inline(never)]
    fn end_more(
        &self,
        index: usize,
        ticket: FirstTicket,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        // Made before the start that gave the ticket, and kept.
        let row = self.more.get().and_then(|more| more.get(index));
        debug_assert!(row.is_some(), "a ticket for a row that was never made");
        row?.end(ticket, report, location)
    }

    /// [`end`](Self::end) of a locked row.
    #[inline(never)]
    fn end_locked(
        &self,
        index: usize,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        let mut guard = self.inner.lock();
        let Rows { rows, free } = &mut *guard;
        let row = rows.get_mut(index)?;
        let was_live = core::mem::replace(&mut row.live, false);
        let info = report.then(|| row.info(location));
        shed_long_name(&mut row.name);
        free.reserve_exact(usize::from(free.capacity() == 0));
        free.push(index);
        if free.len() == rows.len() && rows.len() > 2 * KEPT_ROWS {
            // None live after a burst: keep the first few rows only.
            rows.truncate(KEPT_ROWS);
            rows.shrink_to_fit();
            free.clear();
            free.extend(0..KEPT_ROWS);
            free.shrink_to_fit();
        }
        drop(guard);
        debug_assert!(was_live, "a task row ended twice"); // not under the lock
        info
    }

    /// Pushes each live row (when it started, and as a task) onto `into`.
    pub(crate) fn collect(
        &self,
        location: &'static Location<'static>,
        into: &mut Vec<(TaskStart, TaskInfo)>,
    ) {
        for row in self.lock_free_rows() {
            row.collect(location, into);
        }
        let rows = self.inner.lock();
        into.extend(
            rows.rows
                .iter()
                .filter(|row| row.live)
                .map(|row| (row.started, row.info(location))),
        );
    }

    /// The first row, then the more rows if they were made: the rows a
    /// report reads before the locked ones.
    fn lock_free_rows(&self) -> impl Iterator<Item = &FirstRow> {
        core::iter::once(&self.first)
            .chain(self.more.get().into_iter().flat_map(|more| more.iter()))
    }

    /// How many rows are live.
    pub(crate) fn live(&self) -> usize {
        let lock_free = self.lock_free_rows().filter(|row| row.is_live()).count();
        let rows = self.inner.lock();
        rows.rows.len() - rows.free.len() + lock_free
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

    /// Starts a task in a locked row (the first row is tested in
    /// `first_row` and below).
    fn start_locked<const N: usize>(rows: &TaskRows, parts: [&str; N]) -> usize {
        rows.start_locked(parts, TaskStart::now())
    }

    /// Ends the task in locked row `index`.
    fn end_locked(
        rows: &TaskRows,
        index: usize,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        rows.end(RowTicket::Locked(index), report, location)
    }

    fn capacity(rows: &TaskRows, index: usize) -> usize {
        rows.inner.lock().rows[index].name.capacity()
    }

    #[test]
    fn rows_are_reused_and_long_names_buffers_are_not_kept() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let first = start_locked(&rows, ["GET /a"]);
        assert_eq!(end_locked(&rows, first, true, here).unwrap().name, "GET /a");
        // The freed row, and its buffer, are the next task's.
        let second = start_locked(&rows, ["GET ", "/b"]);
        assert_eq!(second, first);
        assert!(end_locked(&rows, second, false, here).is_none());

        let long = start_locked(&rows, [&"x".repeat(KEPT_NAME + 1)]);
        assert!(capacity(&rows, long) > KEPT_NAME);
        end_locked(&rows, long, false, here);
        assert_eq!(capacity(&rows, long), 0, "it would stay that large");
        assert_eq!(rows.live(), 0);
    }

    #[test]
    fn a_burst_leaves_at_most_the_kept_rows_once_none_is_live() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let burst: Vec<_> = (0..KEPT_ROWS * 3)
            .map(|_| start_locked(&rows, ["GET /"]))
            .collect();
        assert_eq!(rows.live(), KEPT_ROWS * 3);
        let (last, ended) = burst.split_last().unwrap();
        for &index in ended {
            end_locked(&rows, index, false, here);
        }
        assert_eq!(
            rows.inner.lock().rows.len(),
            KEPT_ROWS * 3,
            "one still live"
        );
        end_locked(&rows, *last, false, here);
        assert_eq!(rows.inner.lock().rows.len(), KEPT_ROWS);
        assert_eq!(rows.live(), 0);
        // The kept rows are all free, each once.
        let again: Vec<_> = (0..KEPT_ROWS)
            .map(|_| start_locked(&rows, ["GET /"]))
            .collect();
        let mut sorted = again.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..KEPT_ROWS).collect::<Vec<_>>());
        assert_eq!(start_locked(&rows, ["GET /"]), KEPT_ROWS, "then a new row");
    }

    #[test]
    fn a_burst_up_to_twice_the_kept_rows_keeps_them_all() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let burst: Vec<_> = (0..KEPT_ROWS * 2)
            .map(|_| start_locked(&rows, ["GET /"]))
            .collect();
        for index in burst {
            end_locked(&rows, index, false, here);
        }
        assert_eq!(rows.inner.lock().rows.len(), KEPT_ROWS * 2);
        assert_eq!(rows.live(), 0);
    }

    #[test]
    fn the_first_row_is_taken_whenever_free_then_the_more_rows_then_the_locked_ones() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let first = rows.start(["GET ", "/a"]);
        assert!(matches!(first, RowTicket::First(_)));
        assert!(rows.more.get().is_none(), "made only when needed");
        let second = rows.start(["GET ", "/b"]);
        assert!(
            matches!(second, RowTicket::More(0, _)),
            "a more row while the first is live"
        );
        let more: Vec<_> = (1..MORE_ROWS)
            .map(|index| {
                let ticket = rows.start(["GET /more"]);
                assert!(matches!(ticket, RowTicket::More(i, _) if i == index));
                ticket
            })
            .collect();
        let locked = rows.start(["GET ", "/locked"]);
        assert!(
            matches!(locked, RowTicket::Locked(0)),
            "a locked row once every lock-free row is live"
        );
        assert_eq!(rows.live(), MORE_ROWS + 2);
        let mut listed = Vec::new();
        rows.collect(here, &mut listed);
        let names: Vec<_> = listed.iter().map(|(_, task)| task.name.as_ref()).collect();
        assert_eq!(names.len(), MORE_ROWS + 2);
        assert_eq!(names[..2], ["GET /a", "GET /b"]);
        assert_eq!(names[MORE_ROWS + 1], "GET /locked");
        assert_eq!(rows.end(first, true, here).unwrap().name, "GET /a");
        assert_eq!(rows.end(second, true, here).unwrap().name, "GET /b");
        let third = rows.start(["GET /c"]);
        assert!(matches!(third, RowTicket::First(_)), "free again");
        let fourth = rows.start(["GET /d"]);
        assert!(matches!(fourth, RowTicket::More(0, _)), "free again");
        for ticket in more.into_iter().chain([third, fourth, locked]) {
            assert!(rows.end(ticket, false, here).is_none());
        }
        assert_eq!(rows.live(), 0);
        let mut listed = Vec::new();
        rows.collect(here, &mut listed);
        assert!(listed.is_empty());
    }
}
