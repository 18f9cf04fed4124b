//! What a shutdown produces, as plain data: why it quit ([`QuitCause`]),
//! what a task looked like ([`TaskInfo`]), what did not return in time
//! ([`TimeoutReport`], per quitter [`QuitterTasks`]), what panicked
//! ([`TaskPanic`]), what was aborted at a deadline ([`AbortedTask`]), how each stage of a staged shutdown went
//! ([`StageReport`]), how a wait stands while it goes on
//! ([`DrainProgress`]), the live tree taken on demand ([`TreeSnapshot`]),
//! and the verdict ([`ExitReport`]).
//!
//! Invariants: these are snapshots. Holding one keeps nothing of the tree
//! alive, and nothing here reads the tree: the tree (and the runner) fill
//! them in, so this layer sits below both and imports neither. `Display`
//! reads like go-quitter's example output.

mod cause;
mod exit;
pub(crate) mod holds;
mod progress;
mod snapshot;
mod task;
mod timeline;
mod timeout;

pub use cause::{EventDetail, QuitCause};
pub use exit::{ExitReport, LameDuck};
pub use progress::DrainProgress;
pub use snapshot::{QuitterSnapshot, QuitterState, TreeSnapshot};
pub use task::{AbortedTask, TaskInfo};
pub use timeline::StageReport;
pub use timeout::{QuitterTasks, TaskPanic, TimeoutReport};
