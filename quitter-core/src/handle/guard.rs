//! [`TaskGuard`]: the proof that a task tracked by hand
//! ([`Quitter::track`]) is live. Its boxed [`TaskSlot`] holds the node and
//! lists the task at once (the registry links the entry where it is, so it
//! must not move); a tracked future keeps its slot inline instead and lists
//! it at its first poll (see `tracked`). Every slot is its own entry, so
//! same-named tasks are distinct.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::panic::Location;
use core::pin::Pin;

use super::quitter::Quitter;
use crate::report::TaskInfo;
use crate::tree::slot::TaskSlot;

/// Proof that one task is tracked by a quitter: while it lives, the quitter
/// (and every ancestor) is not done. Dropping it ends the task.
///
/// Made by [`Quitter::track`]; the adapters' `spawn` keep the same record
/// inside the spawned future instead (see [`Tracked`](crate::Tracked)). A
/// guard cannot be ended twice, so go-quitter's "Done without Add" misuse
/// cannot be written.
#[must_use = "the task ends as soon as its guard is dropped"]
pub struct TaskGuard {
    // Declared first, so dropped first: the task ends before the handle.
    slot: Pin<Box<TaskSlot>>,
    // A handle, for `quitter()`: a task slot alone keeps its node alive but
    // cannot make handles (see `node`).
    quitter: Quitter,
}

impl TaskGuard {
    /// Takes a hold on `quitter` and lists the task at once.
    pub(crate) fn track(
        quitter: &Quitter,
        name: Cow<'static, str>,
        location: &'static Location<'static>,
    ) -> Option<TaskGuard> {
        let mut slot = Box::pin(TaskSlot::take(quitter.node(), name, location)?);
        slot.as_mut().list();
        Some(TaskGuard {
            slot,
            quitter: quitter.clone(),
        })
    }

    /// The quitter the task is tracked by.
    pub fn quitter(&self) -> Quitter {
        self.quitter.clone()
    }

    /// A snapshot of this task: name, location and age.
    pub fn info(&self) -> TaskInfo {
        self.slot.info()
    }

    /// Ends the task, recording that it panicked with `message`. The panic
    /// is kept (moving up the tree if this quitter is dropped) until it is
    /// shown by [`Quitter::panics`] and the exit report.
    pub fn panicked(mut self, message: impl Into<String>) {
        self.slot.as_mut().panicked(message.into());
    }

    /// Runs `work` as this task (blocking work on a thread pool, say): the
    /// task ends when `work` returns; with `std`, a panic in `work` is
    /// recorded with its message and then resumed. This is what the
    /// adapters' `spawn_blocking`/`unblock` run on their pools.
    pub fn run<T>(self, work: impl FnOnce() -> T) -> T {
        #[cfg(feature = "std")]
        return match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            Ok(value) => value,
            Err(payload) => {
                self.panicked(crate::panic_message(&*payload));
                std::panic::resume_unwind(payload)
            }
        };
        #[cfg(not(feature = "std"))]
        work()
    }
}

impl fmt::Debug for TaskGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGuard")
            .field("task", &self.info())
            .field("quitter", &self.quitter.name())
            .finish()
    }
}
