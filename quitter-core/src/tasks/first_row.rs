//! [`FirstRow`]: a task table's row that starts and ends without the
//! table's lock: one compare-and-swap and one store each. A start takes it
//! whenever it is free, so an HTTP/1 connection (one request in flight at
//! a time) almost always uses it alone: not while a report is still
//! reading the previous request. The table's other rows (`tasks::rows`:
//! more rows of this kind, then locked ones) take the tasks that start
//! while it is not free.
//!
//! The row is one state word beside the task's name and start. The word
//! is `0` (free), [`WRITING`] (one thread alone writes the row: its
//! starter, or a thread tidying it after a task), or [`LIVE`] and/or a
//! count of readers (reports naming the task, [`READER`] each).
//!
//! Invariants:
//! - a thread writes the name or the start only while it holds
//!   [`WRITING`]. A start takes it from `0` with an acquire CAS and gives
//!   it back by its release store of [`LIVE`]; a task's end takes it from
//!   [`LIVE`] (no reader in) with an acquire-release CAS, and the last
//!   reader out of an ended task's row from `0` with an acquire CAS, and
//!   both give it back by a release store of `0`. A word that is
//!   [`LIVE`] or counts readers changes only by read-modify-writes, so the
//!   release sequences carry every reader's reads (each `leave` is a
//!   release) to whoever writes next;
//! - readers read only while counted in (they enter only a [`LIVE`] word),
//!   and a task's end reads its row before taking [`LIVE`] away: so no
//!   read overlaps a write, and each read sees the whole of the last
//!   write. A reader that saw one task's [`LIVE`] may be counted into the
//!   next task's (the row was freed and started again in between): it
//!   reads that task, whole;
//! - a task is in the row from its start (the release store of [`LIVE`])
//!   to its end, which takes the start's [`FirstTicket`] (not `Clone`): so
//!   it ends once, on its owner's thread or one that the ticket was sent
//!   to (ordered after the start);
//! - a start while the word is not `0` (the row live, being written, or
//!   still read after its task ended) is refused, and the caller takes a
//!   locked row: no thread ever waits here. A panic while a start writes
//!   (out of memory) frees the row, and a reader that panics is counted
//!   out (drop guards);
//! - the name's buffer is kept for the next task unless it grew past
//!   `KEPT_NAME`; a longer one is freed when the task ends, or if a reader
//!   is in the row then, by the last reader to leave (unless a new task
//!   took the row first: it reuses the buffer, and its end frees it). A
//!   last reader's tidy that comes after another task has started and
//!   ended finds the row tidy already. Reports read a table's rows under
//!   the registry shard's lock, so today there is one reader at most.

use alloc::string::String;
use core::panic::Location;

use super::clock::TaskStart;
use super::rows::{shed_long_name, write_name};
use crate::report::TaskInfo;
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// One thread is writing the row (starting a task, or tidying after one).
const WRITING: usize = 1;
/// A task is in the row.
const LIVE: usize = 2;
/// One reader in the row (counted above the two flags).
const READER: usize = 4;

/// A task in the [`FirstRow`]: made by the start that took the row, and
/// taken by the task's end (so a task ends once).
#[must_use = "the task stays in the row until its end takes this"]
#[derive(Debug)]
pub(crate) struct FirstTicket(());

/// A row that starts and ends without a lock; see the module docs.
pub(crate) struct FirstRow {
    state: AtomicUsize,
    name: UnsafeCell<String>,
    started: UnsafeCell<TaskStart>,
}

// SAFETY: the row's name and start are read and written only as the
// module's invariants allow (a writer alone, or readers alone, ordered by
// the state word), and `String` and `TaskStart` are `Send` and `Sync`.
unsafe impl Sync for FirstRow {}

impl FirstRow {
    pub(crate) fn new() -> Self {
        FirstRow {
            state: AtomicUsize::new(0),
            name: UnsafeCell::new(String::new()),
            started: UnsafeCell::new(TaskStart::NOT_YET),
        }
    }

    /// Starts a task named by `parts`, one after another, that started at
    /// `started`; `None` (nothing done) if the row is not free.
    #[inline]
    pub(crate) fn start<const N: usize>(
        &self,
        parts: [&str; N],
        started: TaskStart,
    ) -> Option<FirstTicket> {
        if self
            .state
            .compare_exchange(0, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // Out of memory in `reserve` unwinds (without `std`): free the row.
        let writing = FreeOnUnwind(&self.state);
        self.name.with_mut(|name| {
            // SAFETY: this thread holds `WRITING` (see the module's
            // invariants), so no other thread reads or writes the row.
            write_name(unsafe { &mut *name }, parts);
        });
        // SAFETY: as for the name.
        self.started.with_mut(|at| unsafe { *at = started });
        core::mem::forget(writing);
        self.state.store(LIVE, Ordering::Release);
        Some(FirstTicket(()))
    }

    /// Ends the task that `ticket` stands for; with `report`, returns it as
    /// it was (name, location, age), to be recorded.
    #[inline]
    pub(crate) fn end(
        &self,
        ticket: FirstTicket,
        report: bool,
        location: &'static Location<'static>,
    ) -> Option<TaskInfo> {
        let FirstTicket(()) = ticket;
        // The row is live (the ticket says so) and only this end takes it
        // out of that: the read overlaps no write.
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
                Ok(_) => {
                    if next == WRITING {
                        self.tidy();
                    }
                    return info;
                }
                Err(now) => state = now,
            }
        }
    }

    /// The task in the row, if one is, (when it started, and as a task)
    /// onto `into`.
    pub(crate) fn collect(
        &self,
        location: &'static Location<'static>,
        into: &mut alloc::vec::Vec<(TaskStart, TaskInfo)>,
    ) {
        if self.enter() {
            let _reading = Reading(self);
            into.push(self.read_live(location));
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

    /// Whether the row looks free (a hint: a start may still be refused).
    #[inline]
    pub(crate) fn is_free(&self) -> bool {
        self.state.load(Ordering::Relaxed) == 0
    }

    /// Whether a task is in the row (a count: nothing is read after it).
    pub(crate) fn is_live(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LIVE != 0
    }

    /// The row's task (when it started, and as a task); the caller is its
    /// end, or a counted reader.
    fn read_live(&self, location: &'static Location<'static>) -> (TaskStart, TaskInfo) {
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
    fn tidy(&self) {
        self.name.with_mut(|name| {
            // SAFETY: this thread holds `WRITING`.
            shed_long_name(unsafe { &mut *name });
        });
        self.state.store(0, Ordering::Release);
    }

    /// Tidies the row if it is free (and nobody else has taken it since).
    #[cold]
    fn tidy_free(&self) {
        if self
            .state
            .compare_exchange(0, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.tidy();
        }
    }
}

/// Frees a row whose start unwound while it held `WRITING`.
struct FreeOnUnwind<'a>(&'a AtomicUsize);

impl Drop for FreeOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

/// A counted-in reader: counted out when dropped, even by a panic.
struct Reading<'a>(&'a FirstRow);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.leave();
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
        let a = row.start(["GET ", "/a"], TaskStart::now()).expect("free");
        assert!(row.is_live());
        assert!(row.start(["GET /b"], TaskStart::now()).is_none(), "taken");
        assert_eq!(row.end(a, true, here).unwrap().name, "GET /a");
        assert!(!row.is_live());
        let b = row.start(["GET /b"], TaskStart::now()).expect("free again");
        let mut listed = alloc::vec::Vec::new();
        row.collect(here, &mut listed);
        assert_eq!(listed[0].1.name, "GET /b");
        assert!(row.end(b, false, here).is_none());
        listed.clear();
        row.collect(here, &mut listed);
        assert!(listed.is_empty(), "nothing named once ended");
    }

    #[test]
    fn a_long_names_buffer_is_freed_at_the_end() {
        let row = FirstRow::new();
        let here = Location::caller();
        let short = row.start(["GET /short"], TaskStart::now()).expect("free");
        row.end(short, false, here);
        let kept = capacity(&row);
        assert!(kept >= 10, "a short name's buffer is kept");
        let long = "x".repeat(super::super::rows::KEPT_NAME + 1);
        let long = row.start([&long], TaskStart::now()).expect("free");
        row.end(long, false, here);
        assert_eq!(capacity(&row), 0);
    }

    #[test]
    fn a_task_ended_under_a_reader_is_tidied_by_the_last_reader() {
        let row = FirstRow::new();
        let here = Location::caller();
        let long = "x".repeat(super::super::rows::KEPT_NAME + 1);
        let ticket = row.start([&long], TaskStart::now()).expect("free");
        assert!(row.enter());
        assert!(row.enter());
        assert_eq!(row.end(ticket, true, here).unwrap().name, long);
        assert!(!row.is_live());
        assert!(
            row.start(["GET /"], TaskStart::now()).is_none(),
            "still read"
        );
        assert!(!row.enter(), "no task to read");
        row.leave();
        assert!(capacity(&row) > 0, "a reader is still in");
        row.leave();
        assert_eq!(capacity(&row), 0, "the last reader freed it");
        assert!(row.start(["GET /"], TaskStart::now()).is_some());
    }
}

/// loom models of the row itself (`RUSTFLAGS="--cfg loom" cargo test -p
/// quitter-core --release --lib`): what a table's API cannot reach, two
/// readers at once and a long name's buffer.
#[cfg(all(test, loom))]
mod loom_models {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use loom::sync::Arc;
    use loom::thread;

    use super::super::rows::KEPT_NAME;
    use super::*;

    /// A long-named task ended while two reports read it, vs the next
    /// start and end on a third thread: every read is whole (the ended
    /// task, or the next one); once all are done the row is free and keeps
    /// no long buffer, whichever of the end, the last reader or the next
    /// task's end tidied it (or a stale tidy came after the next task).
    #[test]
    fn an_end_under_two_readers_vs_the_next_start() {
        loom::model(|| {
            let row = Arc::new(FirstRow::new());
            let here = Location::caller();
            let long = "x".repeat(KEPT_NAME + 1);
            let ticket = row.start([&long], TaskStart::NOT_YET).expect("free");
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let (row, long) = (row.clone(), long.clone());
                    thread::spawn(move || {
                        let mut read = Vec::new();
                        row.collect(here, &mut read);
                        let names: Vec<_> =
                            read.iter().map(|(_, task)| task.name.to_string()).collect();
                        assert!(names.len() <= 1);
                        assert!(names.iter().all(|name| *name == long || name == "GET /b"));
                    })
                })
                .collect();
            let ender = {
                let (row, long) = (row.clone(), long.clone());
                thread::spawn(move || {
                    assert_eq!(row.end(ticket, true, here).expect("asked").name, long);
                })
            };
            ender.join().unwrap();
            if let Some(next) = row.start(["GET /b"], TaskStart::NOT_YET) {
                row.end(next, false, here);
            }
            for reader in readers {
                reader.join().unwrap();
            }
            assert_eq!(row.state.load(Ordering::Relaxed), 0, "free");
            // SAFETY: every other thread has been joined.
            let kept = row.name.with(|name| unsafe { (*name).capacity() });
            assert!(kept <= KEPT_NAME, "a long buffer kept: {kept}");
            assert!(row.start(["GET /c"], TaskStart::NOT_YET).is_some());
        });
    }
}
