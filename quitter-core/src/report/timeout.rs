//! What a timed join finds: [`TimeoutReport`] (the tasks that did not
//! return, per quitter path, [`QuitterTasks`]) and [`TaskPanic`] (a task
//! that panicked).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::holds::{unnamed_holds, UnnamedHold};
use super::TaskInfo;

/// The live tasks of one quitter, and its holds that are not named tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuitterTasks {
    /// The quitter's path, e.g. `main/connections`.
    pub path: String,
    /// Its live tasks, one entry per task even when names repeat.
    pub tasks: Vec<TaskInfo>,
    /// Tasks counted but not listed yet, so only counted here: tracked
    /// futures accepted (spawned) but never polled yet (named from their
    /// first poll on), and [`SerialTask`](crate::SerialTask)s started
    /// unlisted.
    pub unpolled: usize,
    /// [`TaskTable`](crate::TaskTable)s with no live row: not tasks, but
    /// each holds the quitter open until it is dropped (one left alive
    /// by mistake keeps a quit from finishing). `Display` names them only
    /// where nothing else holds the quitter.
    pub idle_tables: usize,
}

impl QuitterTasks {
    /// The report's lines for its holds that are not named tasks (see
    /// `report::holds`).
    pub(crate) fn unnamed_holds(&self) -> impl Iterator<Item = UnnamedHold> {
        unnamed_holds(self.tasks.len(), self.unpolled, self.idle_tables)
    }
}

impl fmt::Display for QuitterTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Timeout waiting done on quitter '{}' due to the following tasks:",
            self.path
        )?;
        for task in &self.tasks {
            writeln!(f, "\t- {task}")?;
        }
        for hold in self.unnamed_holds() {
            writeln!(f, "\t- {hold}")?;
        }
        Ok(())
    }
}

/// A timed join ran out: every quitter of the subtree that was still held
/// open (by live tasks, or idle task tables), with those tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeoutReport {
    /// Quitters with live tasks (or idle task tables), depth first from
    /// the waited-for quitter. Empty if nothing held the quitter open but
    /// it was never quit.
    pub quitters: Vec<QuitterTasks>,
}

impl TimeoutReport {
    /// How many tasks had not returned.
    pub fn task_count(&self) -> usize {
        self.quitters
            .iter()
            .map(|q| q.tasks.len() + q.unpolled)
            .sum()
    }

    /// The tasks of the quitter at `path`, if it had live tasks.
    pub fn tasks_of(&self, path: &str) -> Option<&[TaskInfo]> {
        self.quitters
            .iter()
            .find(|q| q.path == path)
            .map(|q| &q.tasks[..])
    }
}

impl fmt::Display for TimeoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quitters.is_empty() {
            return writeln!(f, "Timed out, with no live task (was the quitter quit?)");
        }
        for quitter in &self.quitters {
            quitter.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TimeoutReport {}

/// A task that panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskPanic {
    /// The path of the quitter that tracked the task.
    pub path: String,
    /// The task, with its age when it panicked.
    pub task: TaskInfo,
    /// The panic message.
    pub message: String,
}

impl fmt::Display for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Task {} on quitter '{}' panicked: {}",
            self.task, self.path, self.message
        )
    }
}
