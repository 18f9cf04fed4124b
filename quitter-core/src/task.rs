//! Tracked tasks: the [`Hold`] that counts a task, the [`TaskGuard`] a
//! running task holds (a hold plus a registry entry), the entry
//! ([`TaskMeta`]) the quitter keeps for it, and the [`TaskInfo`] snapshot
//! reports carry.
//!
//! A task is counted from the moment it is accepted ([`Hold`]), and listed
//! by name from the moment it runs ([`TaskGuard`]): `track` does both at
//! once; a tracked future is listed at its first poll (see `tracked`).
//!
//! Invariants:
//! - a [`Hold`] exists only if [`State::try_hold`](crate::state::State)
//!   accepted it, and it holds exactly one hold on its node until dropped;
//! - the guard's [`TaskKey`] names an entry of its node's
//!   [registry](crate::registry) for exactly the guard's lifetime (only the guard removes it), so same-named tasks
//!   are distinct entries;
//! - dropping the guard removes the entry *before* its hold is released
//!   (the guard's `Drop` runs before its fields'), so a report taken after
//!   `done()` never shows an ended task.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::panic::Location;
use core::time::Duration;

use crate::node::Node;
use crate::registry::TaskKey;
use crate::sync::Arc;
use crate::Quitter;

/// When a task started: an `Instant` with `std`, nothing without.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Started(#[cfg(feature = "std")] std::time::Instant);

impl Started {
    pub(crate) fn now() -> Self {
        Started(
            #[cfg(feature = "std")]
            std::time::Instant::now(),
        )
    }

    pub(crate) fn age(&self) -> Option<Duration> {
        #[cfg(feature = "std")]
        return Some(self.0.elapsed());
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
/// Made by [`Quitter::track`]; the adapters' `spawn` keep one inside the
/// spawned future. A guard cannot be ended twice, so go-quitter's "Done
/// without Add" misuse cannot be written.
#[must_use = "the task ends as soon as its guard is dropped"]
pub struct TaskGuard {
    hold: Hold,
    key: TaskKey,
}

/// One counted task of a node, not necessarily listed: what keeps the node
/// from being done. Dropping it releases the hold.
pub(crate) struct Hold(Arc<Node>);

impl Hold {
    /// Takes a hold on `node`, unless it has quit.
    #[inline]
    pub(crate) fn take(node: &Arc<Node>) -> Option<Hold> {
        node.state.try_hold().then(|| Hold(node.clone()))
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.0
    }

    /// Lists the task in the registry, with its start time now.
    pub(crate) fn register(
        self,
        name: Cow<'static, str>,
        location: &'static Location<'static>,
    ) -> TaskGuard {
        let key = self.0.register_task(TaskMeta {
            name,
            location,
            started: Started::now(),
        });
        TaskGuard { hold: self, key }
    }
}

impl Drop for Hold {
    #[inline]
    fn drop(&mut self) {
        self.0.release_hold();
    }
}

impl TaskGuard {
    /// The quitter the task is tracked by.
    pub fn quitter(&self) -> Quitter {
        Quitter::from_node(self.hold.node().clone())
    }

    /// A snapshot of this task: name, location and age.
    pub fn info(&self) -> TaskInfo {
        self.hold.node().task_info(self.key)
    }

    /// Ends the task, recording that it panicked with `message`. The panic
    /// is kept (moving up the tree if this quitter is dropped) until it is
    /// shown by [`Quitter::panics`] and the exit report.
    pub fn panicked(self, message: impl Into<String>) {
        self.hold.node().record_panic(self.key, message.into());
        // `self` drops here and ends the task.
    }
}

impl TaskGuard {
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

impl Drop for TaskGuard {
    /// Unlists the task; then the hold, a field, is released.
    fn drop(&mut self) {
        self.hold.node().remove_task(self.key);
    }
}

impl fmt::Debug for TaskGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGuard")
            .field("task", &self.info())
            .field("quitter", &self.hold.node().name())
            .finish()
    }
}
