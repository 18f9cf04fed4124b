//! quitter on smol: signal sources, tracked spawn, a timed join and a
//! `main` helper.
//!
//! Everything here is a thin layer over [`quitter_core`]: the quit tree,
//! the task registry, panic capture, time-out reports and the main runner
//! live there; this crate only supplies smol's executor, `async-io`'s timer
//! and `async-signal`'s signals (on Windows, the console control events,
//! through a handler of its own). Its names and behaviour match
//! `quitter-tokio`'s, so a program can switch runtimes.
//!
//! | module | gives |
//! |---|---|
//! | [`signals`] | Ctrl-C, SIGTERM, SIGHUP and "any shutdown signal" as [`Stream`](futures_core::Stream)s of signal names |
//! | [`spawn()`], [`spawn_unnamed`], [`spawn_on`], [`spawn_unnamed_on`] | smol tasks (global executor, or an [`Executor`](smol::Executor) of yours) tracked by a [`Quitter`], refused after quit |
//! | [`unblock`] | blocking work on smol's thread pool, tracked the same way |
//! | [`wait_done`] | [`Quitter::wait_done_until`] with an `async_io::Timer` |
//! | `http::serve` | HTTP/1.1 and HTTP/2 (hyper, through `smol-hyper`) for any hyper or tower service, every connection and request tracked, drained losslessly (feature `hyper`) |
//! | `systemd` | socket activation (`systemd::tcp_listener`); with [`Shutdown`]'s `systemd()`, the notify protocol: ready, stopping, status, timeout extensions while the drain moves (feature `systemd`) |
//! | [`Shutdown`] ([`Smol`]) | `main` in a few lines: sources, a lame duck and a timeout in, [`ExitReport`] out; [`ExitReport::exit`] ends the process on time |
//!
//! # A `main`
//!
//! ```no_run
//! use std::time::Duration;
//! use quitter_smol::{Quitter, Shutdown};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smol::block_on(async {
//!         let root = Quitter::new("main");
//!         // Install the signal handlers first, so a signal is never missed.
//!         let shutdown = Shutdown::new(root.clone())
//!             .timeout(Duration::from_secs(10))
//!             .signals()?;
//!
//!         let worker = root.clone();
//!         quitter_smol::spawn(&root, "worker", async move {
//!             worker.quitted().await; // do work until told to quit
//!         })?
//!         .detach(); // dropping a smol `Task` would cancel it
//!
//!         let report = shutdown.run().await;
//!         report.exit() // prints the report, exits with its code
//!     })
//! }
//! ```
//!
//! # Spawned tasks
//!
//! [`spawn()`] (smol's global executor), [`spawn_on`] (an executor you
//! run), their `_unnamed` forms (named after the future's type) and
//! [`unblock`] are built on [`Quitter::track_future`] and share its rules:
//!
//! - **Refused after quit**: once the quitter (or an ancestor) has quit, they
//!   return [`AlreadyQuit`] and the future (or closure) is dropped without
//!   being polled (or called).
//! - **Named and located**: the task is reported with its name and the
//!   caller's source location (`#[track_caller]`), e.g. in a time-out report.
//! - **Panics**: a panic while polling is caught, recorded on the task with
//!   its message (it shows in [`Quitter::panics`] and the exit report), and
//!   resumed. smol's executor spawns with async-task's
//!   `propagate_panic(true)`: the executor thread does not unwind; the panic
//!   is stored in the task and re-raised where the [`Task`] is awaited (lost
//!   if the task was detached or dropped, but still in the report).
//! - **Dropping a [`Task`] cancels it.** The cancelled future is dropped by
//!   the executor at its next turn (at once with [`Task::cancel`]`.await`),
//!   and with it the task's guard: the task ends and is **not** reported as
//!   hung. Call [`Task::detach`] to let it run without a handle (it stays
//!   tracked by the quitter).
//! - **Aborted at a deadline**: in an [abortable](Quitter::is_abortable)
//!   quitter (a stage that [aborts on overrun](quitter_core::Stage::abort_on_overrun),
//!   a `Shutdown` with `abort_on_timeout`), an abort drops the task's future
//!   at its next poll (it is woken for it) and the report lists it as
//!   aborted. smol cannot cancel a task from inside, so the task then
//!   unwinds with [`Aborted`](quitter_core::Aborted) (no message is
//!   printed): a detached task ends quietly, and awaiting its [`Task`]
//!   panics, as awaiting a cancelled task does (`catch_unwind` finds the
//!   `Aborted` payload).
//! - **Blocking work cannot be cancelled**: dropping the [`Task`] of
//!   [`unblock`] before the closure starts drops the closure (the task ends);
//!   once it runs, the task stays live until the closure returns, and a
//!   closure that never returns is reported as hung.
//!
//! [`Task`]: smol::Task
//! [`Task::cancel`]: smol::Task::cancel
//! [`Task::detach`]: smol::Task::detach

// One `unsafe` call, on Windows only: registering the console control
// handler (`console`).
#![cfg_attr(not(windows), forbid(unsafe_code))]
#![cfg_attr(windows, deny(unsafe_code))]
#![warn(missing_docs, missing_debug_implementations)]

#[cfg(windows)]
mod console;
#[cfg(feature = "hyper")]
pub mod http;
mod join;
mod runtime;
pub mod signals;
mod spawn;
#[cfg(feature = "systemd")]
pub mod systemd;

pub use join::wait_done;
pub use quitter_core::SignalStream;
pub use runtime::{Shutdown, Smol};
pub use spawn::{spawn, spawn_on, spawn_unnamed, spawn_unnamed_on, unblock};

/// The runtime-free core this crate builds on.
pub use quitter_core;
pub use quitter_core::{
    AlreadyQuit, DrainProgress, ExitReport, Phase, QuitCause, Quitter, SignalError,
    SignalsAlreadyClaimed, Stage, TaskGuard, TimeoutReport,
};
