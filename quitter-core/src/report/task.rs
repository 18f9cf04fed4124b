//! [`TaskInfo`]: what a report shows of one tracked task.

use alloc::borrow::Cow;
use core::fmt;
use core::panic::Location;
use core::time::Duration;

/// A snapshot of one tracked task, as reports show it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The name given to `track`/`spawn`.
    pub name: Cow<'static, str>,
    /// Where the task was tracked or spawned (`#[track_caller]`).
    pub location: &'static Location<'static>,
    /// How long it had been running when the snapshot was taken (`std`
    /// only). Read off a coarse clock on Linux (`CLOCK_MONOTONIC_COARSE`,
    /// cheap enough to read at every request): within one kernel tick, at
    /// most 10 ms, of the true age. A report lists tasks oldest first;
    /// tasks that started within one tick of each other, in no set order.
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

/// A task aborted at a deadline: its future was dropped before it
/// returned (see `Stage::abort_on_overrun` and `Quitter::abort`). Tasks
/// that could not be aborted (a `TaskGuard`, blocking work, a future
/// stuck inside one poll) are listed as hung instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AbortedTask {
    /// The path of the quitter that tracked the task.
    pub path: alloc::string::String,
    /// The task, with its age when it was aborted.
    pub task: TaskInfo,
}

impl fmt::Display for AbortedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Task {} on quitter '{}' was aborted",
            self.task, self.path
        )
    }
}
