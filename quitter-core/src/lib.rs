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
//! This crate needs no runtime (`#![no_std]` + `alloc`; the `std` feature,
//! on by default, adds task ages, `std::error::Error` and
//! `std::process::Termination`). `quitter-tokio` and `quitter-smol` add
//! signal sources, tracked spawn and timers.
//!
//! # Quick look
//!
//! ```
//! use quitter_core::{Quitter, MainRunner};
//! # futures::executor::block_on(async {
//! let root = Quitter::new("main");
//! let http = root.child("http").unwrap();
//!
//! // A task: tracked, it learns of the quit by awaiting `quitted()`.
//! let guard = http.track("accept loop").unwrap();
//! let worker = {
//!     let http = http.clone();
//!     async move {
//!         http.quitted().await; // or poll http.is_quitting()
//!         drop(guard);          // the task ends
//!     }
//! };
//!
//! // The main runner: one source that fires at once, a deadline that never
//! // comes (a runtime adapter passes its timer here).
//! let runner = MainRunner::new(root.clone()).source("demo", async {});
//! let (report, ()) = futures::join!(runner.run(|| std::future::pending::<()>()), worker);
//! assert_eq!(report.exit_code(), 0);
//! assert_eq!(report.cause.label, "demo");
//! assert!(http.child("late").is_err()); // refused after quit
//! # });
//! ```
//!
//! # The rules
//!
//! - `track` and `child` are atomic with respect to `quit`: refused, or
//!   counted and waited for. Nothing is lost.
//! - A child holds its parent open until the child's own subtree is done.
//!   Dropping the last handle of a child with no live task unlinks it.
//! - `is_quitting` is one atomic load; `quitted()` on a quit quitter is
//!   ready at once and allocates nothing.
//! - Misuse never panics: refusals are [`AlreadyQuit`], time-outs a
//!   [`TimeoutReport`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod cause;
mod error;
mod node;
mod quitter;
mod report;
mod runner;
mod signals;
mod state;
mod sync;
mod task;
mod trace;
mod tracked;
mod wait;

pub use cause::{EventDetail, QuitCause};
pub use error::AlreadyQuit;
pub use quitter::Quitter;
pub use report::{ExitReport, QuitterTasks, TaskPanic, TimeoutReport};
pub use runner::MainRunner;
pub use signals::{SignalClaim, SignalsAlreadyClaimed};
pub use task::{TaskGuard, TaskInfo};
#[cfg(feature = "std")]
pub use tracked::panic_message;
pub use tracked::Tracked;
pub use wait::{Done, Quitted, RunUntilQuit};
