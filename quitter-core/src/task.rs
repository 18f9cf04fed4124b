//! Tracked tasks as users see them: the [`TaskGuard`] of a task tracked by
//! hand, what the registry records of a task ([`TaskMeta`]) and the
//! [`TaskInfo`] snapshot reports carry.
//!
//! A task is counted from the moment it is accepted and listed by name
//! from the moment it runs; both are the job of its
//! [`TaskSlot`](crate::registry::TaskSlot). `track` does both at once, in a
//! boxed slot (the registry links the entry where it is, so it must not
//! move); a tracked future keeps its slot inline and lists it at its first
//! poll (see `tracked`). Every slot is its own entry, so same-named tasks
//! are distinct.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::panic::Location;
use core::pin::Pin;
use core::time::Duration;

use crate::registry::TaskSlot;
use crate::Quitter;

/// When a task started running (its listing): an `Instant` with `std`,
/// nothing without; `NOT_YET` before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Started(#[cfg(feature = "std")] Option<std::time::Instant>);

impl Started {
    pub(crate) const NOT_YET: Started = Started(
        #[cfg(feature = "std")]
        None,
    );

    pub(crate) fn now() -> Self {
        Started(
            #[cfg(feature = "std")]
            Some(std::time::Instant::now()),
        )
    }

    pub(crate) fn age(&self) -> Option<Duration> {
        #[cfg(feature = "std")]
        return self.0.map(|started| started.elapsed());
        #[cfg(not(feature = "std"))]
        None
    }
}

/// The registry entry for one live task.
pub(crate) struct TaskMeta {
    pub(crate) name: Cow<'static, str>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) started: Started,
}

impl TaskMeta {
    pub(crate) fn snapshot(&self) -> TaskInfo {
        TaskInfo {
            name: self.name.clone(),
            location: self.location,
            age: self.started.age(),
        }
    }
}

/// A snapshot of one tracked task, as reports show it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The name given to `track`/`spawn`.
    pub name: Cow<'static, str>,
    /// Where the task was tracked or spawned (`#[track_caller]`).
    pub location: &'static Location<'static>,
    /// How long it had been running when the snapshot was taken (`std` only).
    pub age: Option<Duration>,
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (spawned at {}", self.name, self.location)?;
        if let Some(age) = self.age {
            write!(f, ", running for {age:.3?}")?;
        }
        f.write_str(")")
    }
}

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
