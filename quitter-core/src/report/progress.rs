//! [`DrainProgress`]: a snapshot of a shutdown's wait, taken while it
//! goes on (what is left, where, and how long there is), for a person
//! watching a long drain or a service manager that wants to hear it move.

use core::fmt;
use core::time::Duration;

use super::holds::idle_tables_alone;
use super::{StageReport, TimeoutReport};

/// How a shutdown's wait for the tree stands, taken while it waits (see
/// `MainRunner::progress` and the adapters' `Shutdown::progress`).
/// `Display` is one line.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DrainProgress {
    /// Since the quit.
    pub waited: Duration,
    /// Until the timeout.
    pub left: Duration,
    /// The live tasks, per quitter.
    pub tasks: TimeoutReport,
    /// The stages being stopped now (quit, not done), outermost first.
    pub stages: alloc::vec::Vec<StageReport>,
}

impl DrainProgress {
    /// How many tasks are left.
    pub fn task_count(&self) -> usize {
        self.tasks.task_count()
    }
}

impl fmt::Display for DrainProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quitters = self.tasks.quitters.len();
        write!(
            f,
            "Shutting down: {} task(s) left in {quitters} quitter(s)",
            self.task_count()
        )?;
        for (index, quitter) in self.tasks.quitters.iter().enumerate() {
            if index == 3 {
                write!(f, ", +{} more", quitters - 3)?;
                break;
            }
            let separator = if index == 0 { " (" } else { ", " };
            write!(f, "{separator}'{}': ", quitter.path)?;
            // Its tasks (named, and not polled yet), or the idle task
            // tables that alone hold it.
            let (named, unpolled, idle) =
                (quitter.tasks.len(), quitter.unpolled, quitter.idle_tables);
            if idle_tables_alone(named, unpolled, idle) {
                write!(f, "{idle} idle task table(s)")?;
            } else {
                write!(f, "{}", named + unpolled)?;
            }
        }
        if quitters > 0 {
            f.write_str(")")?;
        }
        for stage in &self.stages {
            write!(
                f,
                ", stage {}/{} of '{}'",
                stage.position, stage.count, stage.path
            )?;
        }
        write!(f, ", {:.1?} left", self.left)
    }
}
