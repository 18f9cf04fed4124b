//! quitter on tokio: signal sources, tracked spawn, a timed join, a `main`
//! helper, and `CancellationToken` interop.
//!
//! Everything here is a thin layer over [`quitter_core`]: the quit tree,
//! the task registry, panic capture, time-out reports and the main runner
//! live there; this crate only supplies tokio's signals, spawner and timer.
//!
//! | module | gives |
//! |---|---|
//! | [`signals`] | Ctrl-C, SIGTERM, SIGHUP and "any shutdown signal" as [`Stream`](futures_core::Stream)s of signal names |
//! | [`spawn()`], [`spawn_unnamed`], [`spawn_blocking`] | tokio tasks tracked by a [`Quitter`], refused after quit |
//! | [`wait_done`] | [`Quitter::wait_done_until`] with a tokio timer |
//! | [`Shutdown`] ([`Tokio`]) | `main` in a few lines: sources, a lame duck and a timeout in, [`ExitReport`] out; [`ExitReport::exit`] ends the process on time |
//! | `http::serve` | HTTP/1.1 and HTTP/2 (hyper) for any hyper or tower service, every connection and request tracked, drained losslessly (feature `hyper`) |
//! | `systemd` | socket activation (`systemd::tcp_listener`); with [`Shutdown`]'s `systemd()`, the notify protocol: ready, stopping, status, timeout extensions while the drain moves (feature `systemd`) |
//! | `cancellation_token`, `cancel_on_quit`, `quit_on_cancel` | links to `tokio_util`'s `CancellationToken` (feature `tokio-util`, on by default), each one tracked task of the quitter until either side fires |
//!
//! # A `main`
//!
//! ```no_run
//! use std::time::Duration;
//! use quitter_tokio::{Quitter, Shutdown};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let root = Quitter::new("main");
//!     // Install the signal handlers first, so a signal is never missed.
//!     let shutdown = Shutdown::new(root.clone())
//!         .timeout(Duration::from_secs(10))
//!         .signals()?;
//!
//!     let worker = root.clone();
//!     quitter_tokio::spawn(&root, "worker", async move {
//!         worker.quitted().await; // do work until told to quit
//!     })?;
//!
//!     let report = shutdown.run().await;
//!     report.exit() // prints the report, exits with its code
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

#[cfg(feature = "hyper")]
pub mod http;
#[cfg(feature = "tokio-util")]
mod interop;
mod join;
mod runtime;
pub mod signals;
mod spawn;
#[cfg(feature = "systemd")]
pub mod systemd;

#[cfg(feature = "tokio-util")]
pub use interop::{cancel_on_quit, cancellation_token, quit_on_cancel, LINK_TASK, TOKEN_CANCELLED};
pub use join::wait_done;
pub use quitter_core::SignalStream;
pub use runtime::{Shutdown, Tokio};
pub use spawn::{spawn, spawn_blocking, spawn_unnamed};

/// The runtime-free core this crate builds on.
pub use quitter_core;
pub use quitter_core::{
    AlreadyQuit, DrainProgress, ExitReport, Phase, QuitCause, Quitter, SignalError,
    SignalsAlreadyClaimed, Stage, TaskGuard, TimeoutReport,
};
