//! [`ExitReport`]: the main runner's verdict, and the exit code that says
//! it.

use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::{AbortedTask, QuitCause, QuitterTasks, StageReport, TaskPanic};

/// The lame duck (draining) between the first event and the quit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LameDuck {
    /// How long it lasted (`std` only).
    pub lasted: Option<Duration>,
    /// A second event (or a quit by code) ended it before its delay.
    pub cut_short: bool,
}

impl fmt::Display for LameDuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lame duck: draining")?;
        if let Some(lasted) = self.lasted {
            write!(f, " for {lasted:.3?}")?;
        }
        if self.cut_short {
            f.write_str(", cut short")?;
        }
        f.write_str(" before the quit")
    }
}

/// How a shutdown went, from the main runner: the cause, what timed out,
/// what panicked, whether a second event cut the wait short, and the exit
/// code that says it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitReport {
    /// The first cause: which source fired, or who called `quit`.
    pub cause: QuitCause,
    /// The lame duck before the quit, if there was one.
    pub lame_duck: Option<LameDuck>,
    /// The timeline of a staged shutdown: every stage of every quitter
    /// with a stop order, in order (empty without stages).
    pub stages: Vec<StageReport>,
    /// Quitters whose tasks had not returned at the deadline (or when the
    /// wait was forced), or that idle task tables still held open.
    pub timed_out: Vec<QuitterTasks>,
    /// Tasks that panicked, anywhere in the tree, at any time.
    pub panicked: Vec<TaskPanic>,
    /// Tasks aborted at a deadline (a stage's budget, or the overall
    /// timeout with [`abort_on_timeout`](crate::Shutdown::abort_on_timeout)):
    /// their futures were dropped before they returned.
    pub aborted: Vec<AbortedTask>,
    /// A second quit event ended the wait before the tree was done.
    pub forced: bool,
    /// The exit code used when `forced` (130 by default, as after Ctrl-C).
    pub forced_exit_code: u8,
}

impl ExitReport {
    /// Every task returned in time, none panicked or was aborted, the wait
    /// was not forced and the cause was not a failure.
    pub fn is_clean(&self) -> bool {
        self.all_returned() && self.panicked.is_empty() && !self.cause.failure
    }

    /// Every task returned (or panicked) before the deadline, none was
    /// aborted, and the wait was not forced.
    pub fn all_returned(&self) -> bool {
        self.timed_out.is_empty() && self.aborted.is_empty() && !self.forced
    }

    /// The verdict in one line, which agrees with the exit code:
    /// "Successfully quit application, …" only for 0.
    pub fn headline(&self) -> &'static str {
        match (self.all_returned(), self.cause.failure) {
            (true, false) => "Successfully quit application, all tracked tasks returned",
            (true, true) => "Quit application after a failure, all tracked tasks returned",
            (false, _) => "Failed to quit application, not all tracked tasks returned",
        }
    }

    /// 0 if clean; `forced_exit_code` if a second event forced the end;
    /// 1 otherwise (tasks timed out, were aborted or panicked, or the
    /// cause is a failure).
    pub fn exit_code(&self) -> u8 {
        if self.is_clean() {
            0
        } else if self.forced {
            self.forced_exit_code
        } else {
            1
        }
    }
}

impl fmt::Display for ExitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Received quit from {}", self.cause)?;
        if self.cause.failure {
            f.write_str(", a failure")?;
        }
        f.write_str("\n")?;
        if let Some(lame_duck) = &self.lame_duck {
            writeln!(f, "{lame_duck}")?;
        }
        writeln!(f, "{}", self.headline())?;
        if self.forced {
            writeln!(f, "The wait was cut short by a second quit event")?;
        }
        // A quitter's hung tasks go under the innermost stage that lists
        // them (nested stop orders list a deep one more than once), and
        // under no stage if none does.
        let owner = |path: &str| {
            self.stages
                .iter()
                .enumerate()
                .filter(|(_, stage)| stage.hung.iter().any(|hung| hung.path == path))
                .max_by_key(|(_, stage)| stage.path.len())
                .map(|(index, _)| index)
        };
        for (index, stage) in self.stages.iter().enumerate() {
            stage.write(f, |hung| owner(&hung.path) == Some(index))?;
        }
        let in_stage = |path: &str| owner(path).is_some();
        for quitter in self.timed_out.iter().filter(|q| !in_stage(&q.path)) {
            quitter.fmt(f)?;
        }
        for aborted in &self.aborted {
            writeln!(f, "{aborted}")?;
        }
        for panic in &self.panicked {
            writeln!(f, "{panic}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl ExitReport {
    /// Prints the report to standard error and ends the process with its
    /// [exit code](Self::exit_code), at once.
    ///
    /// Unlike returning the report from `main` (after which a runtime is
    /// dropped, and tokio's waits for every blocking task), this exits on
    /// time even when a task or blocking work hangs.
    pub fn exit(&self) -> ! {
        use std::io::Write;
        std::eprint!("{self}");
        let _ = std::io::stdout().flush();
        std::process::exit(i32::from(self.exit_code()))
    }
}

/// Returning an `ExitReport` from `main` prints it to standard error and
/// exits with [`ExitReport::exit_code`].
#[cfg(feature = "std")]
impl std::process::Termination for ExitReport {
    fn report(self) -> std::process::ExitCode {
        std::eprint!("{self}");
        std::process::ExitCode::from(self.exit_code())
    }
}
