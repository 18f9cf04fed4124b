//! The lines a report writes for a quitter's holds that are not named
//! tasks ([`unnamed_holds`]): tasks counted but not listed yet, and idle
//! task tables. Shared by the timeout and stage texts and the timed-out
//! wait's trace (through `QuitterTasks::unnamed_holds`), the snapshot
//! text, and (its rule, [`idle_tables_alone`]) the drain's progress line,
//! so that they agree.
//!
//! Invariant: a quitter's idle task tables get a line only when nothing
//! else holds it (no named task, nothing unpolled). Beside a task they
//! are the normal state of things (an idle HTTP connection keeps its
//! table beside its connection task); alone they are what keeps the quit
//! from finishing, and the only thing that can say so.

use core::fmt;

/// One line's worth of a quitter's unnamed holds.
pub(crate) enum UnnamedHold {
    /// Tasks counted but not listed yet (not polled, or started unlisted).
    Unpolled(usize),
    /// Task tables with no live row, holding a quitter nothing else holds.
    IdleTables(usize),
}

impl fmt::Display for UnnamedHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            UnnamedHold::Unpolled(count) => write!(f, "{count} task(s) not polled yet"),
            UnnamedHold::IdleTables(count) => {
                let plural = if count == 1 { "" } else { "s" };
                write!(
                    f,
                    "{count} idle task table{plural}, holding it open until dropped"
                )
            }
        }
    }
}

/// Whether a quitter with `named` listed tasks, `unpolled` tasks not
/// listed yet and `idle_tables` idle task tables gets its idle tables
/// named: it has some, and nothing else holds it (see the module docs).
pub(crate) fn idle_tables_alone(named: usize, unpolled: usize, idle_tables: usize) -> bool {
    idle_tables > 0 && named == 0 && unpolled == 0
}

/// The lines for such a quitter's holds that are not named tasks.
pub(crate) fn unnamed_holds(
    named: usize,
    unpolled: usize,
    idle_tables: usize,
) -> impl Iterator<Item = UnnamedHold> {
    let unpolled_line = (unpolled > 0).then_some(UnnamedHold::Unpolled(unpolled));
    let idle_line = idle_tables_alone(named, unpolled, idle_tables)
        .then_some(UnnamedHold::IdleTables(idle_tables));
    unpolled_line.into_iter().chain(idle_line)
}
