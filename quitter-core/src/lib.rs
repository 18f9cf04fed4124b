//! A runtime-free graceful-shutdown tree.
//!
//! A [`Quitter`] is a node of a *quit tree*. Quitting a node quits its whole
//! subtree at once; each node tracks tasks, and [`Quitter::done`] is ready
//! when the node has quit and every task below it has ended. A timed wait
//! ([`Quitter::wait_done_until`]) that runs out says which tasks did not
//! return, by quitter path, name, spawn location and age. The
//! [`MainRunner`] ties it together the way go-quitter's main quitter does:
//! first quit source wins, quit, wait up to a deadline, [`ExitReport`].
//!
//! This crate needs no runtime (`#![no_std]
// `unsafe` is allowed in four modules alone: the intrusive list
// (`sync::list`), its two users (`tasks::registry`, `waiting::waiters`) and
// a task's hold on its node (`tree::hold`). Each block carries a `SAFETY`
// argument; the loom models, Miri and ThreadSanitizer check them.
#![deny(
    unsafe_code,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(missing_docs, missing_debug_implementations)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// The layers, bottom up; each imports only the ones above it in this list.
mod error;
mod handle;
mod report;
mod runner;
mod sync;
mod tasks;
mod trace;
mod tree;
mod waiting;

pub use error::AlreadyQuit;
pub use handle::futures::{
    Done, DoneOwned, Draining, DrainingOwned, Quitted, QuittedOwned, RunUntilQuit,
};
pub use handle::guard::TaskGuard;
pub use handle::quitter::Quitter;
#[cfg(feature = "std")]
pub use handle::tracked::panic_message;
pub use handle::tracked::Tracked;
pub use report::{
    EventDetail, ExitReport, LameDuck, QuitCause, QuitterTasks, StageReport, TaskInfo, TaskPanic,
    TimeoutReport,
};
pub use runner::main_runner::MainRunner;
#[cfg(feature = "std")]
pub use runner::shutdown::{Runtime, Shutdown};
pub use runner::signal_stream::SignalStream;
#[cfg(feature = "std")]
pub use runner::signals::SignalError;
pub use runner::signals::{SignalClaim, SignalsAlreadyClaimed};
pub use tree::stages::Stage;
