//! What the registry records of a task ([`TaskMeta`]): its name, where it
//! was tracked, and when it started running ([`TaskStart`]). An entry is one
//! task, or a task table whose rows are its tasks ([`TaskName::Rows`]).

use alloc::borrow::Cow;
use core::panic::Location;

use super::clock::TaskStart;
use super::rows::TaskRows;
use crate::report::TaskInfo;
use crate::sync::Arc;

/// What an entry is called: a task's name, or a task table's rows (each
/// a task of its own in a report).
pub(crate) enum TaskName {
    Task(Cow<'static, str>),
    Rows(Arc<TaskRows>),
}

// The registry's entries are `Send` and `Sync` by an `unsafe impl` (their
// links): what they own must be, whatever variants come.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TaskName>();
};

impl Default for TaskName {
    fn default() -> Self {
        TaskName::Task(Cow::Borrowed(""))
    }
}

impl From<Cow<'static, str>> for TaskName {
    fn from(name: Cow<'static, str>) -> Self {
        TaskName::Task(name)
    }
}

/// The registry's record of one task (or task table).
pub(crate) struct TaskMeta {
    pub(crate) name: TaskName,
    pub(crate) location: &'static Location<'static>,
    pub(crate) started: TaskStart,
}

impl TaskMeta {
    /// The task as a report shows it (a table: by its location alone).
    pub(crate) fn snapshot(&self) -> TaskInfo {
        let name = match &self.name {
            TaskName::Task(name) => name.clone(),
            TaskName::Rows(_) => Cow::Borrowed("task table"),
        };
        TaskInfo {
            name,
            location: self.location,
            age: self.started.age(),
        }
    }

    /// The task (or a table's live rows), when each started, onto `into`;
    /// `false` if it named none (a table with no live row).
    pub(crate) fn collect(&self, into: &mut alloc::vec::Vec<(TaskStart, TaskInfo)>) -> bool {
        let before = into.len();
        match &self.name {
            TaskName::Task(_) => into.push((self.started, self.snapshot())),
            TaskName::Rows(rows) => rows.collect(self.location, into),
        }
        into.len() > before
    }

    /// How many tasks this entry stands for (a table: its live rows).
    pub(crate) fn tasks(&self) -> usize {
        match &self.name {
            TaskName::Task(_) => 1,
            TaskName::Rows(rows) => rows.live(),
        }
    }
}
