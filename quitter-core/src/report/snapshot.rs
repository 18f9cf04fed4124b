//! [`TreeSnapshot`]: the live quit tree, taken without quitting anything
//! (`Quitter::snapshot`), for a dump on demand or an admin endpoint: each
//! quitter's path and state, each live task's name, spawn location and
//! age (a served request is a task named by its method and path).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::holds::unnamed_holds;
use super::TaskInfo;

/// Where a quitter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuitterState {
    /// Not quit, not draining.
    Running,
    /// Draining (the lame duck): still serving, readiness says no.
    Draining,
    /// Quit; some task of its subtree has not ended yet.
    Quitting,
    /// Quit, and every task of its subtree ended.
    Done,
}

impl fmt::Display for QuitterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuitterState::Running => "running",
            QuitterState::Draining => "draining",
            QuitterState::Quitting => "quitting",
            QuitterState::Done => "done",
        })
    }
}

/// One quitter of a [`TreeSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuitterSnapshot {
    /// The quitter's path, e.g. `main/http/127.0.0.1:50312`.
    pub path: String,
    /// How deep below the snapshot's quitter (which is 0).
    pub depth: usize,
    /// Where it stands.
    pub state: QuitterState,
    /// Its own live tasks (not its children's), named.
    pub tasks: Vec<TaskInfo>,
    /// Tasks counted but not listed yet, so only counted: tracked futures
    /// never polled yet (named from their first poll on), and
    /// [`SerialTask`](crate::SerialTask)s started unlisted (such as an
    /// HTTP request whose response was not polled yet).
    pub unpolled: usize,
    /// [`TaskTable`](crate::TaskTable)s with no live row: not tasks, but
    /// each holds the quitter open (quitter-hyper keeps one per HTTP
    /// connection that has served more than one request, until it
    /// closes). `Display` names them only where nothing else holds the
    /// quitter.
    pub idle_tables: usize,
}

/// The live subtree of a quitter, depth first (a parent before its
/// children), as [`Quitter::snapshot`](crate::Quitter::snapshot) took it.
/// `Display` is an indented tree, one line per quitter and per task (and
/// a line for a quitter's idle task tables where it has no task).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeSnapshot {
    /// Every live quitter of the subtree, depth first.
    pub quitters: Vec<QuitterSnapshot>,
}

impl TreeSnapshot {
    /// How many live tasks the subtree has.
    pub fn task_count(&self) -> usize {
        self.quitters
            .iter()
            .map(|q| q.tasks.len() + q.unpolled)
            .sum()
    }

    /// The quitter at `path`, if it is live.
    pub fn quitter(&self, path: &str) -> Option<&QuitterSnapshot> {
        self.quitters.iter().find(|q| q.path == path)
    }
}

impl fmt::Display for TreeSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Quit tree: {} quitter(s), {} task(s)",
            self.quitters.len(),
            self.task_count()
        )?;
        for quitter in &self.quitters {
            let indent = quitter.depth * 4;
            // The root line shows the full path; below, each name alone.
            let name = match quitter.depth {
                0 => &quitter.path[..],
                _ => quitter.path.rsplit('/').next().unwrap_or(&quitter.path),
            };
            writeln!(f, "{:indent$}{name} [{}]", "", quitter.state)?;
            for task in &quitter.tasks {
                writeln!(f, "{:indent$}  - task {task}", "")?;
            }
            let holds = unnamed_holds(quitter.tasks.len(), quitter.unpolled, quitter.idle_tables);
            for hold in holds {
                writeln!(f, "{:indent$}  - {hold}", "")?;
            }
        }
        Ok(())
    }
}
