//! [`FirstRow`]: a task table's row that starts and ends without the
//! table's lock: one compare-and-swap and one store each. An HTTP/1
//! connection has one request in flight at a time, so each of its
//! requests takes this row; the table's locked rows (`tasks::rows`) are
//! for the tasks that start while it is taken.
//!
//! The row is one state word beside the task's name and start. The word
//! is `0` (free), [`WRITING`] (one thread alone writes the row: its
//! starter, or its ender tidying it), or [`LIVE`] plus a count of
//! readers (a report or a count naming the task, [`READER`] each).
//!
//! Invariants:
//! - a thread writes the name or the start only while it holds
//!   [`WRITING`], which it takes from `0` with an acquire CAS and gives
//!   back with a release store; readers read only while counted in a
//!   [`LIVE`] word, and the task's end reads it while it is [`LIVE`]: so no
//!   read overlaps a write, and each read sees the whole of the last
//!   write;
//! - a task is in the row from its start (the release store of [`LIVE`])
//!   to its end, which the caller makes exactly once; a start while the
//!   word is not `0` (the row live, being written, or still read after
//!   its task ended) is refused, and the caller takes a locked row: no
//!   thread ever waits here;
//! - the name's buffer is kept for the next task unless it grew past
//!   `KEPT_NAME`; a longer one is freed when the task ends, or if readers
//!   are in the row then, by the last of them to leave: an ended task
//!   keeps no large buffer.

use alloc::string::String;
use core::panic::Location;

use super::meta::Started;
use crate::report::TaskInfo;
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// One thread is writing the row (starting a task, or tidying after one).
const WRITING: usize = 1;
/// A task is in the row.
const LIVE: usize = 2;
/// One reader in the row (counted above the two flags).
const READER: usize = 4;

/// A row that starts and ends without a lock; see the module docs.
pub(crate) struct FirstRow {
    state: AtomicUsize,
    name: UnsafeCell<String>,
    started: UnsafeCell<Started>,
}

// SAFETY: the row's name and start are read and written only as the
// module's invariants allow (a writer alone, or readers alone, ordered by
// the state word), and `String` and `Started` are `Send`.
unsafe impl Sync for FirstRow {}

impl FirstRow {
    pub(crate) fn new() -> Self {
        FirstRow {
            state: AtomicUsize::new(0),
            name: UnsafeCell::new(String::new()),
            started: UnsafeCell::new(Started::NOT_YET),
        }
    }

    /// Starts a task named by `parts`, one after another, that started at
    /// `started`; `false` (nothing done) if the row is not free.
    #[inline]
    pub(crate) fn start<const N: usize>(&self, parts: [&str; N], started: Started) -> bool {
        if self
            .state
            .compare_exchange(0, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let length = parts.iter().map(|part| part.len()).sum();
        self.name.with_mut(|name| {
            // SAFETY: this thread holds `WRITING` (see the module's
            // invariants), so no other thread reads or writes the row.
            let name = unsafe { &mut *name };
            name.clear();
            name.reserve(length);
            for part in parts {
                name.push_str(part);
            }
        });
        // SAFETY: as for the name.
        self.started.with_mut(|at| unsafe { *at = started });
        self.state.store(LIVE, Ordering::Release);
        true
    }

    /// Ends the task in the row; with `report`, returns it as it was
    /// (name, location, age), to be recorded. Only the task's owner calls
    /// this, once.
    #[inline]
    pub(crate) fn end(
        &self,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        // The row is live and only this end takes it out of that: the
        // read overlaps no write.
        let info = report.then(|| self.read_live(location).1);
        let mut state = LIVE;
        loop {
            // With no reader in, take the row to tidy it; else leave it to
            // the last reader.
            let next = if state == LIVE {
                WRITING
            } else {
                state & !LIVE
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if next == WRITING => return self.tidy(info),
                Ok(_) => return info,
                Err(now) => state = now,
            }
        }
    }

    /// The task in the row, if one is, (when it started, and as a task)
    /// onto `into`.
    pub(crate) fn collect(
        &self,
        location: &'static Location<'static>,
        into: &mut alloc::vec::Vec<(Started, TaskInfo)>,
    ) {
        if self.enter() {
            into.push(self.read_live(location));
            self.leave();
        }
    }

    /// Counts a reader in, if a task is in the row; `true` if counted.
    fn enter(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & LIVE != 0 {
            match self.state.compare_exchange(
                state,
                state + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    /// Counts a reader out; the last reader of a row whose task has ended
    /// tidies it.
    fn leave(&self) {
        if self.state.fetch_sub(READER, Ordering::AcqRel) == READER {
            self.tidy_free();
        }
    }

    /// Whether a task is in the row.
    pub(crate) fn is_live(&self) -> bool {
        self.state.load(Ordering::Acquire) & LIVE != 0
    }

    /// The row's task (when it started, and as a task); the caller is its
    /// end, or a counted reader.
    fn read_live(&self, location: &'static Location<'static>) -> (Started, TaskInfo) {
        // SAFETY: the row is live and the caller keeps it so (its end, or
        // a reader counted in), and no write happens while it is.
        let name = self.name.with(|name| unsafe { (*name).clone() });
        // SAFETY: as for the name.
        let started = self.started.with(|at| unsafe { *at });
        let task = TaskInfo {
            name: name.into(),
            location,
            age: started.age(),
        };
        (started, task)
    }

    /// With `WRITING` held: frees a long name's buffer, and frees the row.
    fn tidy<T>(&self, passing: T) -> T {
        self.name.with_mut(|name| {
            // SAFETY: this thread holds `WRITING`.
            let name = unsafe { &mut *name };
            if name.capacity() > super::rows::KEPT_NAME {
                *name = String::new();
            }
        });
        self.state.store(0, Ordering::Release);
        passing
    }

    /// Tidies the row if it is free (and nobody else has taken it since).
    #[cold]
    fn tidy_free(&self) {
        if self
            .state
            .compare_exchange(0, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.tidy(());
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn capacity(row: &FirstRow) -> usize {
        // SAFETY: single-threaded, and no write is under way.
        row.name.with(|name| unsafe { (*name).capacity() })
    }

    #[test]
    fn a_row_is_refused_while_live_and_reused_after() {
        let row = FirstRow::new();
        let here = Location::caller();
        assert!(row.start(["GET ", "/a"], Started::now()));
        assert!(row.is_live());
        assert!(!row.start(["GET /b"], Started::now()), "taken");
        assert_eq!(row.end(true, here).unwrap().name, "GET /a");
        assert!(!row.is_live());
        assert!(row.start(["GET /b"], Started::now()), "free again");
        let mut listed = alloc::vec::Vec::new();
        row.collect(here, &mut listed);
        assert_eq!(listed[0].1.name, "GET /b");
        assert!(row.end(false, here).is_none());
        listed.clear();
        row.collect(here, &mut listed);
        assert!(listed.is_empty(), "nothing named once ended");
    }

    #[test]
    fn a_long_names_buffer_is_freed_at_the_end() {
        let row = FirstRow::new();
        let here = Location::caller();
        assert!(row.start(["GET /short"], Started::now()));
        row.end(false, here);
        let kept = capacity(&row);
        assert!(kept >= 10, "a short name's buffer is kept");
        let long = "x".repeat(super::super::rows::KEPT_NAME + 1);
        assert!(row.start([&long], Started::now()));
        row.end(false, here);
        assert_eq!(capacity(&row), 0);
    }

    #[test]
    fn a_task_ended_under_a_reader_is_tidied_by_the_last_reader() {
        let row = FirstRow::new();
        let here = Location::caller();
        let long = "x".repeat(super::super::rows::KEPT_NAME + 1);
        assert!(row.start([&long], Started::now()));
        assert!(row.enter());
        assert!(row.enter());
        assert_eq!(row.end(true, here).unwrap().name, long);
        assert!(!row.is_live());
        assert!(!row.start(["GET /"], Started::now()), "still read");
        assert!(!row.enter(), "no task to read");
        row.leave();
        assert!(capacity(&row) > 0, "a reader is still in");
        row.leave();
        assert_eq!(capacity(&row), 0, "the last reader freed it");
        assert!(row.start(["GET /"], Started::now()));
    }
}
