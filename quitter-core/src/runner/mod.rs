//! The shutdown of a program, on top of the tree: the [`main_runner`]
//! (go-quitter's main quitter: first source wins, quit, timed wait,
//! report; one run's steps in `run`), [`shutdown`] (the runner with a runtime's timer and signals,
//! for the adapters), the process-wide claim on signal handling
//! ([`signals`]) and the merged signal stream ([`signal_stream`]).
//!
//! It uses the tree only through the public handles (`handle`), and
//! produces the data of `report`.

pub(crate) mod main_runner;
#[cfg(all(feature = "systemd", unix))]
mod notify_socket;
pub(crate) mod phase;
mod run;
#[cfg(feature = "std")]
pub(crate) mod shutdown;
pub(crate) mod signal_stream;
pub(crate) mod signals;
mod sources;
#[cfg(feature = "systemd")]
pub(crate) mod systemd;
mod watchers;
