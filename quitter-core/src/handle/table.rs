//! [`TaskTable`]: many short tasks of one quitter (the requests of one
//! connection) kept as rows of one table instead of a task record each.
//! The table holds its quitter once (one hold, one registry entry, listed
//! when it is made), for itself and all its rows; reports and
//! `task_count` name and count each live row as a task of its own (name,
//! location, age); reports count an idle table apart (`idle_tables`: a
//! hold, not a task). No hold and no registry entry per task. A task
//! takes the table's first row whenever it is free (not live, and not
//! being read by a report: `tasks::first_row`), and then starts with one
//! compare-and-swap and one store, and ends the same way: an HTTP/1
//! connection's requests, one at a time, almost always do.
//! Otherwise it takes one of 15 more rows of the same kind, made (one
//! allocation) the first time a start finds the first row busy and kept:
//! an HTTP/2 connection's streams in flight at once do. Past those, it
//! takes a locked row: the table's lock once to start and once to end.
//! Locked rows are allocated as they are first needed and kept for the
//! next tasks, up to a bound (see `tasks::rows`).
//!
//! Invariants:
//! - a report names each row live throughout its reading, whole, once; it
//!   reads the lock-free rows one after another, then the locked rows
//!   under their lock, so it is not one instant: a task that ends while
//!   the report reads its row can be named beside the next task (which
//!   took another row), as tasks on different registry shards can;
//! - the table's slot (its hold and entry) lives as long as the table or
//!   any of its [`TableTask`]s (they share it through an `Arc`), so a row
//!   is reported only while the node is held, and the node is not done
//!   while a row is live; a row can start after the quit (the table
//!   holds the node already);
//! - a row ends exactly once, when its `TableTask` is dropped; if its
//!   quitter is aborted then, it is recorded as aborted (name, age), as a
//!   task record's end is;
//! - an idle table holds its quitter without naming a task; reports count
//!   it apart (`idle_tables`), so a timed-out wait's report names the
//!   quitter an idle table left alive keeps open. Its owner drops it when
//!   it is done (quitter-hyper's, with its connection, which is a named
//!   task of the same quitter).

use alloc::boxed::Box;
use core::fmt;
use core::panic::Location;
use core::pin::Pin;

use super::quitter::Quitter;
use crate::sync::Arc;
use crate::tasks::meta::TaskName;
use crate::tasks::rows::{RowTicket, TaskRows};
use crate::tree::slot::TaskSlot;

/// A table of short tasks tracked by one quitter, cheaper per task than a
/// [`SerialTask`](crate::SerialTask) or a [`TaskGuard`](crate::TaskGuard):
/// for a connection's requests, say. Made by [`Quitter::task_table`]. It
/// holds its quitter open while it or any of its tasks lives; while no
/// task is live it holds it as an idle table (counted apart in reports,
/// not as a task), so drop it when its owner is done.
///
/// ```
/// use quitter_core::Quitter;
///
/// let connection = Quitter::new("127.0.0.1:50312");
/// let requests = connection.task_table().expect("not quit");
/// let first = requests.start(["GET ", "/"]);
/// let second = requests.start(["GET ", "/slow"]);
/// let tasks = &connection.snapshot().quitters[0].tasks;
/// assert_eq!(tasks.len(), 2); // each row, by name
/// assert_eq!(tasks[1].name, "GET /slow");
/// drop((first, second));
/// assert_eq!(connection.snapshot().task_count(), 0); // an idle table is no task
/// assert_eq!(connection.snapshot().quitters[0].idle_tables, 1); // but holds it open
/// drop(requests);
/// connection.quit();
/// assert!(connection.is_done());
/// ```
pub struct TaskTable {
    shared: Arc<Shared>,
}

/// What a table and its tasks share.
struct Shared {
    // The table's hold and registry entry (named by `rows`), listed when
    // made; ended when the last of the table and its tasks goes.
    slot: Pin<Box<TaskSlot>>,
    rows: Arc<TaskRows>,
    quitter: Quitter,
    location: &'static Location<'static>,
}

/// One live row of a [`TaskTable`]: the task ends when this is dropped
/// (recorded as aborted if its quitter is aborted then).
#[must_use = "the task ends as soon as it is dropped"]
pub struct TableTask {
    shared: Arc<Shared>,
    // Taken by the drop, the task's end.
    row: Option<RowTicket>,
}

impl TaskTable {
    /// A table on `quitter`, reported at `location`; `None` once it has
    /// quit.
    pub(crate) fn new(quitter: &Quitter, location: &'static Location<'static>) -> Option<Self> {
        let rows = Arc::new(TaskRows::new());
        let slot = TaskSlot::take(quitter.node(), TaskName::Rows(rows.clone()), location)?;
        let mut slot = Box::pin(slot);
        slot.as_mut().list();
        Some(TaskTable {
            shared: Arc::new(Shared {
                slot,
                rows,
                quitter: quitter.clone(),
                location,
            }),
        })
    }

    /// Starts a task named by `parts`, one after another (copied into a
    /// reused buffer, in a lock-free row if one is free, else under the
    /// table's lock: no code of the caller runs there), its age from
    /// now: a report names it until the returned
    /// [`TableTask`] is dropped. Never refused: the table holds its
    /// quitter already, even once it has quit.
    #[inline]
    pub fn start<const N: usize>(&self, parts: [&str; N]) -> TableTask {
        let row = self.shared.rows.start(parts);
        TableTask {
            shared: self.shared.clone(),
            row: Some(row),
        }
    }

    /// The quitter the tasks are tracked by.
    pub fn quitter(&self) -> &Quitter {
        &self.shared.quitter
    }
}

impl TableTask {
    /// The quitter the task is tracked by.
    pub fn quitter(&self) -> &Quitter {
        &self.shared.quitter
    }
}

impl Drop for TableTask {
    fn drop(&mut self) {
        let Some(row) = self.row.take() else {
            return;
        };
        let shared = &*self.shared;
        let aborted = shared.slot.is_aborted();
        if let Some(task) = shared.rows.end(row, aborted, shared.location) {
            shared.slot.record_abort_of(task);
        }
    }
}

impl fmt::Debug for TaskTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTable")
            .field("quitter", &self.shared.quitter.name())
            .field("live", &self.shared.rows.live())
            .finish()
    }
}

impl fmt::Debug for TableTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableTask")
            .field("quitter", &self.shared.quitter.name())
            .field("row", &self.row)
            .finish()
    }
}
