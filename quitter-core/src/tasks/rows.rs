//! [`TaskRows`]: the rows of a task table, short tasks (the requests of
//! one connection) named and aged in a list of their own behind one lock,
//! instead of a registry entry each. The table's one registry entry names
//! its rows (`meta::TaskName::Rows`), and a report reads them through it.
//!
//! Invariants:
//! - a row is live from [`start`](TaskRows::start) to
//!   [`end`](TaskRows::end) of the index `start` gave, which the caller
//!   ends exactly once; an ended row is free for the next task, and its
//!   name's buffer is kept for it (unless it grew past [`KEPT_NAME`]: then
//!   the next start drops it), so a table allocates nothing per task once
//!   it has had as many tasks at once (up to twice [`INLINE_ROWS`]);
//! - the first [`INLINE_ROWS`] rows are *inline*: whether each is live is
//!   an atomic flag of its own outside the lock, set under the lock by
//!   `start` and cleared by `end` without it (one store: the common end,
//!   an HTTP/1 connection's request or one of an HTTP/2 connection's
//!   streams, takes no lock). Everything else (names, ages, the other
//!   rows' liveness, the free list of the rows past the inline ones) is
//!   read and written under the lock only. An end writes nothing but the
//!   flag, so a row's name and age change only in a `start`, under the
//!   lock, while its flag is clear: a report (under the lock) that sees a
//!   row live reads it whole. An end that must report its row (an abort)
//!   reads it and clears the flag under the lock;
//! - `start` prefers an inline row, so rows past them exist only after a
//!   burst of more than [`INLINE_ROWS`] tasks at once; once none of those
//!   is live, a table of more than twice [`INLINE_ROWS`] rows keeps the
//!   inline ones only;
//! - the rows' lock is a leaf, and runs no caller's code: a name is given
//!   as parts that are copied in (nothing under the lock can panic, short
//!   of running out of memory, or lock anything). A report or a count takes
//!   it inside a registry shard's lock (the table's entry is listed
//!   there).

use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;

use super::meta::Started;
use crate::report::TaskInfo;
use crate::sync::{AtomicBool, Mutex, Ordering};

/// A row's name buffer longer than this is not kept for the next task:
/// it would stay that large for the table's life.
const KEPT_NAME: usize = 256;

/// Rows whose liveness is a flag outside the lock (ended without it); also
/// the rows a table keeps once a burst of more than twice as many ends.
const INLINE_ROWS: usize = 16;

/// The rows of one task table: live ones and free ones, by index.
pub(crate) struct TaskRows {
    /// Whether inline row `i` is live (see the module's invariants).
    inline_live: [AtomicBool; INLINE_ROWS],
    inner: Mutex<Rows>,
}

struct Rows {
    rows: Vec<Row>,
    /// Indices of the rows past the inline ones that are not live.
    free: Vec<usize>,
}

struct Row {
    name: String,
    started: Started,
    /// Whether the row is live, for a row past the inline ones (an inline
    /// row's flag is in [`TaskRows::inline_live`]).
    live: bool,
}

impl TaskRows {
    pub(crate) fn new() -> Self {
        TaskRows {
            inline_live: core::array::from_fn(|_| AtomicBool::new(false)),
            inner: Mutex::new(Rows {
                rows: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    /// Starts a task named by `parts`, one after another (copied into a
    /// reused buffer), its age from now; returns its row's index.
    pub(crate) fn start<const N: usize>(&self, parts: [&str; N]) -> usize {
        let started = Started::now();
        let length = parts.iter().map(|part| part.len()).sum();
        let mut guard = self.inner.lock();
        let Rows { rows, free } = &mut *guard;
        // A free inline row (its end cleared the flag: `Acquire` pairs
        // with that `Release`, so the ended task is done with the row).
        let inline = rows.len().min(INLINE_ROWS);
        let index = match self.inline_live[..inline]
            .iter()
            .position(|live| !live.load(Ordering::Acquire))
        {
            Some(index) => index,
            // Past the inline rows (all live): a free one, or a new one.
            None => match free.pop() {
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
            },
        };
        let row = &mut rows[index];
        if row.name.capacity() > KEPT_NAME {
            row.name = String::new();
        }
        row.name.clear();
        row.name.reserve(length);
        for part in parts {
            row.name.push_str(part);
        }
        row.started = started;
        match self.inline_live.get(index) {
            // Under the lock: a report reads the row under it too.
            Some(live) => live.store(true, Ordering::Relaxed),
            None => row.live = true,
        }
        index
    }

    /// Ends the task in row `index`; with `report`, returns it as it was
    /// (name, location, age), to be recorded. An inline row's end, not
    /// reported, takes no lock.
    #[inline]
    pub(crate) fn end(
        &self,
        index: usize,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        match self.inline_live.get(index) {
            Some(live) if !report => {
                // The task is done with the row: a `start` that sees the
                // flag clear (`Acquire`) may reuse it at once.
                if cfg!(debug_assertions) {
                    let was_live = live.swap(false, Ordering::Release);
                    debug_assert!(was_live, "a task row ended twice");
                } else {
                    live.store(false, Ordering::Release);
                }
                None
            }
            _ => self.end_locked(index, report, location),
        }
    }

    /// [`end`](Self::end) under the lock: a row past the inline ones, or
    /// one to report (read before it is freed).
    #[cold]
    fn end_locked(
        &self,
        index: usize,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        let mut guard = self.inner.lock();
        let Rows { rows, free } = &mut *guard;
        let row = rows.get_mut(index)?;
        let info = report.then(|| row.info(location));
        let was_live = match self.inline_live.get(index) {
            Some(live) => live.swap(false, Ordering::Release),
            None => {
                free.reserve_exact(usize::from(free.capacity() == 0));
                free.push(index);
                core::mem::replace(&mut row.live, false)
            }
        };
        if free.len() == rows.len().saturating_sub(INLINE_ROWS) && rows.len() > 2 * INLINE_ROWS {
            // None live past the inline rows after a burst: keep those.
            rows.truncate(INLINE_ROWS);
            rows.shrink_to_fit();
            free.clear();
            free.shrink_to_fit();
        }
        drop(guard);
        debug_assert!(was_live, "a task row ended twice"); // not under the lock
        info
    }

    /// Whether row `index` of `rows` is live (under the lock).
    fn is_live(&self, rows: &Rows, index: usize) -> bool {
        match self.inline_live.get(index) {
            Some(live) => live.load(Ordering::Acquire),
            None => rows.rows[index].live,
        }
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
                .enumerate()
                .filter(|&(index, _)| self.is_live(&rows, index))
                .map(|(_, row)| (row.started, row.info(location))),
        );
    }

    /// How many rows are live.
    pub(crate) fn live(&self) -> usize {
        let rows = self.inner.lock();
        (0..rows.rows.len())
            .filter(|&index| self.is_live(&rows, index))
            .count()
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
        let first = rows.start(["GET /a"]);
        assert_eq!(rows.end(first, true, here).unwrap().name, "GET /a");
        // The freed row, and its buffer, are the next task's.
        let second = rows.start(["GET ", "/b"]);
        assert_eq!(second, first);
        assert!(rows.end(second, false, here).is_none());

        let long = rows.start([&"x".repeat(KEPT_NAME + 1)]);
        assert!(capacity(&rows, long) > KEPT_NAME);
        rows.end(long, false, here);
        assert_eq!(rows.live(), 0);
        // The next task does not inherit the large buffer.
        let next = rows.start(["GET /c"]);
        assert_eq!(next, long);
        assert!(
            capacity(&rows, next) <= KEPT_NAME,
            "it would stay that large"
        );
        rows.end(next, false, here);
    }

    #[test]
    fn inline_rows_end_without_the_lock_and_later_rows_with_it() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let all: Vec<_> = (0..INLINE_ROWS + 2)
            .map(|_| rows.start(["GET /"]))
            .collect();
        assert_eq!(all, (0..INLINE_ROWS + 2).collect::<Vec<_>>());
        assert_eq!(rows.live(), INLINE_ROWS + 2);
        // An inline row ends while the lock is held elsewhere (a report):
        // one store, no wait.
        let held = rows.inner.lock();
        assert!(rows.end(3, false, here).is_none());
        drop(held);
        assert!(!rows.inline_live[3].load(Ordering::Relaxed));
        assert_eq!(rows.live(), INLINE_ROWS + 1);
        // A free inline row is taken before a free later one.
        rows.end(INLINE_ROWS, false, here);
        assert_eq!(rows.start(["GET /again"]), 3);
        assert_eq!(rows.start(["GET /then"]), INLINE_ROWS);
        // A reported end (an abort) reads the row before freeing it.
        let info = rows.end(3, true, here).expect("reported");
        assert_eq!(info.name, "GET /again");
        let mut listed = Vec::new();
        rows.collect(here, &mut listed);
        assert_eq!(listed.len(), INLINE_ROWS + 1);
        assert!(listed.iter().all(|(_, task)| task.name != "GET /again"));
    }

    #[test]
    fn a_burst_leaves_at_most_the_kept_rows_once_none_is_live() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let burst: Vec<_> = (0..INLINE_ROWS * 3)
            .map(|_| rows.start(["GET /"]))
            .collect();
        assert_eq!(rows.live(), INLINE_ROWS * 3);
        let (last, ended) = burst.split_last().unwrap();
        for &index in ended {
            rows.end(index, false, here);
        }
        assert_eq!(
            rows.inner.lock().rows.len(),
            INLINE_ROWS * 3,
            "one still live"
        );
        rows.end(*last, false, here);
        assert_eq!(rows.inner.lock().rows.len(), INLINE_ROWS);
        assert_eq!(rows.live(), 0);
        // The kept rows are all free, each once.
        let again: Vec<_> = (0..INLINE_ROWS).map(|_| rows.start(["GET /"])).collect();
        let mut sorted = again.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..INLINE_ROWS).collect::<Vec<_>>());
        assert_eq!(rows.start(["GET /"]), INLINE_ROWS, "then a new row");
    }

    #[test]
    fn a_burst_up_to_twice_the_kept_rows_keeps_them_all() {
        let rows = TaskRows::new();
        let here = Location::caller();
        let burst: Vec<_> = (0..INLINE_ROWS * 2)
            .map(|_| rows.start(["GET /"]))
            .collect();
        for index in burst {
            rows.end(index, false, here);
        }
        assert_eq!(rows.inner.lock().rows.len(), INLINE_ROWS * 2);
        assert_eq!(rows.live(), 0);
    }
}
