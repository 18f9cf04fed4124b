//! [`Phase`]: where a shutdown run stands, handed to the runner's
//! observers as it moves (a service manager's notifications, a status
//! line, a log).
//!
//! Invariants: each run hands out `Running` once, then (if it stops)
//! `Stopping` once, `Quitting` once, any number of `Progress`, `Aborting`
//! at most once (after the progress), and `Done` once, in that order; a
//! phase borrows what it shows only for the call.

use crate::handle::quitter::Quitter;
use crate::report::{DrainProgress, ExitReport, QuitCause};

/// A step of a shutdown run, for the observers of
/// [`MainRunner::observe`](crate::MainRunner::observe) (and the adapters'
/// `Shutdown::observe`).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Phase<'r> {
    /// The run began waiting for a quit source: the program is up, its
    /// listeners bound (a service manager hears "ready" here).
    Running,
    /// The first event, or a quit by code: the stop begins, with the lame
    /// duck first when `lame_duck` (the root is draining).
    #[non_exhaustive]
    Stopping {
        /// Why the program stops.
        cause: &'r QuitCause,
        /// Draining comes first: the quit follows after the lame duck.
        lame_duck: bool,
    },
    /// The root was quit: the wait for the tree begins.
    #[non_exhaustive]
    Quitting {
        /// The root, to look at what is left ([`Quitter::live_tasks`]).
        root: &'r Quitter,
    },
    /// The wait goes on: what is left (every so often, see
    /// [`MainRunner::progress`](crate::MainRunner::progress)).
    Progress(&'r DrainProgress),
    /// The deadline came with tasks left, and the run aborts them (with
    /// `abort_on_timeout`): it waits a grace for them to go.
    #[non_exhaustive]
    Aborting {
        /// The root, to look at what is left.
        root: &'r Quitter,
    },
    /// The run ended with this report.
    Done(&'r ExitReport),
}
