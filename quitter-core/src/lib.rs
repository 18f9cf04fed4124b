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
//! # Guide
//!
//! ## Tracked tasks
//!
//! A task is tracked with [`Quitter::track`] (or wrapped with
//! [`Quitter::track_future`], which is what the adapters' `spawn` do) and
//! ends when its [`TaskGuard`] drops (or its future completes or is
//! dropped). Tracking is atomic with respect to `quit`: once a quitter has
//! quit, it refuses, and nothing was started (a [`TaskTable`] made before
//! the quit still starts rows: it holds the quitter already). A tracked future counts from
//! the call and is listed by name from its first poll; a report counts the
//! ones never polled.
//!
//! ```
//! use quitter_core::{AlreadyQuit, Quitter};
//!
//! let root = Quitter::new("main");
//! let worker = root.track_future("worker", async { 42 }).unwrap();
//! assert_eq!(futures::executor::block_on(worker), 42); // the task ended
//!
//! root.quit();
//! assert_eq!(root.track("too late").unwrap_err(), AlreadyQuit);
//! assert!(root.is_done()); // quit, and no task left
//! ```
//!
//! ## A child sub-tree
//!
//! A child quits with its parent, but can also be quit and waited for on its
//! own, like a sub-system restart. Dropping its last handle (with no task
//! left) unlinks it, so a child per connection does not accumulate.
//!
//! ```
//! use quitter_core::Quitter;
//! # futures::executor::block_on(async {
//! let root = Quitter::new("main");
//! let cache = root.child("cache").unwrap();
//! let refresher = cache.track("refresher").unwrap();
//!
//! cache.quit(); // only the sub-tree
//! assert!(cache.is_quitting() && !root.is_quitting());
//! drop(refresher);
//! cache.wait_done_until(std::future::pending::<()>()).await.unwrap();
//!
//! drop(cache); // unlinked from `root`
//! assert_eq!(root.child_count(), 0);
//! let cache = root.child("cache").unwrap(); // restarted
//! # drop(cache);
//! # });
//! ```
//!
//! ## The report
//!
//! A timed join that runs out names every task that did not return, under
//! its quitter's path, with the place it was spawned and its age.
//!
//! ```
//! use quitter_core::Quitter;
//! # futures::executor::block_on(async {
//! let root = Quitter::new("main");
//! let conns = root.child("connections").unwrap();
//! let _stuck = conns.track("127.0.0.1:50312").unwrap();
//! root.quit();
//!
//! // Any future is a deadline; here one that has already passed.
//! let report = root.wait_done_until(async {}).await.unwrap_err();
//! let hung = report.tasks_of("main/connections").unwrap();
//! assert_eq!(hung[0].name, "127.0.0.1:50312");
//! print!("{report}");
//! // Timeout waiting done on quitter 'main/connections' due to the following tasks:
//! //     - 127.0.0.1:50312 (spawned at src/main.rs:6:26, running for 12.000µs)
//! # });
//! ```
//!
//! ## The main runner
//!
//! [`MainRunner`] takes labelled sources (futures, or streams so that a
//! second event can force the end), waits for the first, quits the root,
//! waits for the tree until the deadline it is given, and returns an
//! [`ExitReport`]. A task may also quit the root itself; that is the cause
//! then.
//!
//! ```
//! use quitter_core::{MainRunner, Quitter};
//! use futures::stream;
//! # futures::executor::block_on(async {
//! let root = Quitter::new("main");
//! let server_error = async { Err::<(), _>("bind: address in use") };
//! let report = MainRunner::new(root)
//!     .stream_source("OS interrupt signal", stream::pending::<&str>())
//!     .source("HTTP server error", server_error)
//!     .run(|| async {}) // the deadline, made when the quit happens
//!     .await;
//! assert_eq!(report.cause.index, Some(1));
//! // Every task returned, but an error caused the quit: exit code 1.
//! assert!(report.cause.failure);
//! assert_eq!(report.exit_code(), 1);
//! assert_eq!(
//!     report.to_string(),
//!     "Received quit from 'HTTP server error' (bind: address in use), a failure\n\
//!      Quit application after a failure, all tracked tasks returned\n"
//! );
//! # });
//! ```
//!
//! # The rules
//!
//! - `track` and `child` are atomic with respect to `quit`: refused, or
//!   counted and waited for. Nothing is lost. (A task table's rows are
//!   not refused: the table, refused or not when it was made, holds the
//!   quitter for them.)
//! - A child holds its parent open until the child's own subtree is done.
//!   Dropping the last handle of a child with no live task unlinks it.
//! - `is_quitting` is one atomic load; `quitted()` on a quit quitter is
//!   ready at once and allocates nothing.
//! - A pending `quitted()` and a running tracked future allocate nothing
//!   either: each is linked, in place, into its quitter's lists. So both
//!   are `!Unpin`: pin them (`pin!`, `Box::pin`) to poll by hand; `.await`,
//!   `select!` and a runtime's `spawn` do that already.
//! - Misuse never panics: refusals are [`AlreadyQuit`], time-outs a
//!   [`TimeoutReport`].

#![no_std]
// `unsafe` is allowed in five modules alone: the intrusive list
// (`sync::list`), its two users (`tasks::registry`, `waiting::waiters`),
// a task's hold on its node (`tree::hold`) and a task table's lock-free
// row (`tasks::first_row`). Each block carries a `SAFETY`
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
#[cfg(feature = "systemd")]
mod activation;
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
pub use handle::abort::{Aborted, OnAbort};
pub use handle::futures::{
    Done, DoneOwned, Draining, DrainingOwned, Quitted, QuittedOwned, RunUntilQuit,
};
pub use handle::guard::TaskGuard;
pub use handle::quitter::Quitter;
pub use handle::serial::SerialTask;
pub use handle::table::{TableTask, TaskTable};
#[cfg(feature = "std")]
pub use handle::tracked::panic_message;
pub use handle::tracked::Tracked;
pub use report::DrainProgress;
pub use report::{
    AbortedTask, EventDetail, ExitReport, LameDuck, QuitCause, QuitterSnapshot, QuitterState,
    QuitterTasks, StageReport, TaskInfo, TaskPanic, TimeoutReport, TreeSnapshot,
};
pub use runner::main_runner::MainRunner;
pub use runner::phase::Phase;
#[cfg(feature = "std")]
pub use runner::shutdown::{Runtime, Shutdown};
pub use runner::signal_stream::SignalStream;
#[cfg(feature = "std")]
pub use runner::signals::SignalError;
pub use runner::signals::{SignalClaim, SignalsAlreadyClaimed};
pub use tree::stage::Stage;

/// systemd's contracts (feature `systemd`): the notify protocol, spoken by
/// the adapters' `Shutdown::systemd`, and socket activation.
#[cfg(feature = "systemd")]
pub mod systemd {
    pub use crate::activation::{tcp_listener, ListenerError, ListenerOrigin};
    pub use crate::runner::systemd::Notifier;
}
