//! [`SerialTask`]: one task record reused by a sequence of tasks, one at a
//! time (the requests of one HTTP/1 connection). Its box, its registry
//! entry and its name's buffer are made once; each task then only takes a
//! hold on the node, is named and listed, and ends: nothing is allocated
//! per task once the name's buffer is as large as the longest name.
//! (quitter-hyper gives a connection's first request a record of its own,
//! for that request alone, and a [`TaskTable`](crate::TaskTable) for the
//! rest.)
//!
//! Invariants:
//! - at most one task at a time: [`start`](SerialTask::start) while a task
//!   runs ends that one first; a panic while naming the next leaves none
//!   running, and nothing held;
//! - the entry is renamed only between tasks, when it is unlisted and its
//!   slot holds nothing (through `&mut`: no report can read it then);
//! - a task that ends while its quitter is aborted is recorded as aborted
//!   (name and age), as a tracked future dropped after an abort is; the
//!   record is never woken by an abort itself (it has no future to
//!   cancel: whatever runs the task is cancelled with its own task).

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::panic::Location;
use core::pin::Pin;

use super::quitter::Quitter;
use crate::report::TaskInfo;
use crate::tree::slot::TaskSlot;

/// A task record reused by tasks that run one after another on one
/// quitter, such as the requests of an HTTP/1 connection: cheaper than a
/// [`TaskGuard`](crate::TaskGuard) per task (for many short tasks at once,
/// see [`TaskTable`](crate::TaskTable)), and reported the same way
/// (name, location, age; aborted if it ends while its quitter is
/// aborted). Made by [`Quitter::serial_task`].
///
/// ```
/// use quitter_core::Quitter;
///
/// let connection = Quitter::new("127.0.0.1:50312");
/// let mut requests = connection.serial_task();
/// for path in ["/", "/slow"] {
///     requests.start(|name| {
///         name.push_str("GET ");
///         name.push_str(path);
///     });
///     assert_eq!(connection.live_tasks().task_count(), 1); // listed by name
///     requests.end();
/// }
/// ```
pub struct SerialTask {
    // Ended (holding nothing, unlisted) between tasks.
    slot: Pin<Box<TaskSlot>>,
    quitter: Quitter,
    running: bool,
}

impl SerialTask {
    pub(crate) fn new(quitter: &Quitter, location: &'static Location<'static>) -> Self {
        SerialTask {
            slot: Box::pin(TaskSlot::idle(location)),
            quitter: quitter.clone(),
            running: false,
        }
    }

    /// Starts the next task, named by `name` (which writes into the
    /// reused buffer, cleared first): it counts and is listed at once, its
    /// age from now. A task still running is ended first. `false` (and
    /// nothing runs) once the quitter has quit.
    pub fn start(&mut self, name: impl FnOnce(&mut String)) -> bool {
        let running = self.start_unlisted(name);
        self.list();
        running
    }

    /// Starts the next task as [`start`](Self::start) does, but lists it
    /// (so that a report names it, its age from then) only at
    /// [`list`](Self::list); it counts at once (the quitter is not done
    /// before it ends; a snapshot counts it as not yet polled). For a task
    /// started on one thread and run on another, such as an HTTP/2
    /// stream, which its connection starts and an executor task runs:
    /// listed and ended on the thread that runs it, its registry entry is
    /// touched by that thread only (its count is added on the starting
    /// thread's word and taken off the ending thread's, as a spawn's). Its
    /// age counts from the listing: ended before it (aborted, say), it is
    /// recorded with no age.
    ///
    /// ```
    /// use quitter_core::Quitter;
    ///
    /// let connection = Quitter::new("127.0.0.1:50312");
    /// let mut stream = connection.serial_task();
    /// assert!(stream.start_unlisted(|name| name.push_str("GET /")));
    /// assert_eq!(connection.snapshot().quitters[0].unpolled, 1); // counted, not named yet
    /// stream.list(); // on the thread that runs the stream
    /// assert_eq!(connection.snapshot().quitters[0].tasks[0].name, "GET /");
    /// stream.end();
    /// assert_eq!(connection.snapshot().task_count(), 0);
    /// ```
    pub fn start_unlisted(&mut self, name: impl FnOnce(&mut String)) -> bool {
        self.end();
        self.running = self.slot.as_mut().restart(self.quitter.node(), name);
        self.running
    }

    /// Lists the running task, on this thread's shard of its quitter's
    /// registry: a report names it from now on. Does nothing if it is
    /// listed already or no task runs.
    #[inline]
    pub fn list(&mut self) {
        self.slot.as_mut().list();
    }

    /// Ends the running task, if any; recorded as aborted if its quitter
    /// is aborted.
    pub fn end(&mut self) {
        if !core::mem::take(&mut self.running) {
            return;
        }
        if self.slot.is_aborted() {
            self.slot.record_abort();
        }
        self.slot.as_mut().end();
    }

    /// Whether a task is running.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The running task (name, location, age), or the last one (its age
    /// then still counts from its start).
    pub fn info(&self) -> TaskInfo {
        self.slot.info()
    }

    /// The quitter the tasks are tracked by.
    pub fn quitter(&self) -> &Quitter {
        &self.quitter
    }
}

impl Drop for SerialTask {
    fn drop(&mut self) {
        self.end();
    }
}

impl fmt::Debug for SerialTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SerialTask")
            .field("quitter", &self.quitter.name())
            .field("running", &self.running)
            .field("task", &self.slot.info())
            .finish()
    }
}
