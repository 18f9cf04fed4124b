//! [`StageReport`]: one stage of a quitter's stop order, as the shutdown
//! went: when it was quit, how long it took, whether it overran its
//! budget, and what hung in it.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::QuitterTasks;

/// One stage of one quitter's stop order (see `Stage`), as the shutdown
/// went. A staged shutdown's [`ExitReport`](super::ExitReport) lists them
/// in order, as its timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageReport {
    /// The path of the quitter whose children the stage stops.
    pub path: String,
    /// The stage's number, and its place among the quitter's stages
    /// (`position` of `count`, from 1).
    pub number: u32,
    /// Its place among the quitter's stages, from 1.
    pub position: usize,
    /// How many stages the quitter has.
    pub count: usize,
    /// The children it stopped (the first few, and how many more).
    pub members: Vec<Cow<'static, str>>,
    /// Children beyond `members`.
    pub more: usize,
    /// When it was quit, after the first quit event (`None`: never quit,
    /// or no clock without `std`).
    pub quit_at: Option<Duration>,
    /// From its quit until every child of it was done (`None`: not done,
    /// or no clock).
    pub took: Option<Duration>,
    /// Whether it was quit at all.
    pub quit: bool,
    /// Whether every child of it was done.
    pub done: bool,
    /// Its budget, if one was given.
    pub budget: Option<Duration>,
    /// The next stage was quit before this one was done: it overran.
    pub overran: bool,
    /// The stage aborts its tasks when it overruns its budget
    /// (`Stage::abort_on_overrun`).
    pub aborts: bool,
    /// How many tasks of its children's subtrees were aborted.
    pub aborted: usize,
    /// The live tasks (and idle task tables) of its children's subtrees
    /// when the report was made.
    pub hung: Vec<QuitterTasks>,
}

impl fmt::Display for StageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, |_| true)
    }
}

impl StageReport {
    /// Its line, then those of its `hung` quitters that `shown` keeps (an
    /// exit report shows each under its innermost stage only).
    pub(crate) fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        shown: impl Fn(&QuitterTasks) -> bool,
    ) -> fmt::Result {
        write!(
            f,
            "Stage {}/{} of '{}' (",
            self.position, self.count, self.path
        )?;
        if self.members.is_empty() {
            f.write_str("no child")?;
        }
        for (index, member) in self.members.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(member)?;
        }
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        f.write_str("): ")?;
        if self.quit {
            f.write_str("quit")?;
            if let Some(at) = self.quit_at {
                write!(f, " at +{at:.3?}")?;
            }
            match (self.done, self.took) {
                (true, Some(took)) => write!(f, ", done in {took:.3?}")?,
                (true, None) => f.write_str(", done")?,
                (false, _) => f.write_str(", not done")?,
            }
            if self.overran {
                f.write_str(", overran its budget")?;
                if let Some(budget) = self.budget {
                    write!(f, " of {budget:.3?}")?;
                }
            }
            if self.aborted > 0 {
                write!(f, ", {} task(s) aborted", self.aborted)?;
            }
        } else {
            f.write_str("not reached")?;
        }
        f.write_str("\n")?;
        for quitter in self.hung.iter().filter(|quitter| shown(quitter)) {
            for task in &quitter.tasks {
                writeln!(f, "\t- {}: {task}", quitter.path)?;
            }
            for hold in quitter.unnamed_holds() {
                writeln!(f, "\t- {}: {hold}", quitter.path)?;
            }
        }
        Ok(())
    }
}
