//! The timed join on smol: [`wait_done`], with an `async_io::Timer` as the
//! deadline of [`Quitter::wait_done_until`].
//!
//! It does not quit anything: quit first, then wait. It runs on any
//! executor (or `smol::block_on`), since `async-io` drives its own timers.

use std::time::Duration;

use async_io::Timer;
use quitter_core::{Quitter, TimeoutReport};

/// Waits until `quitter` has quit and every task of its subtree has ended,
/// or `timeout` has passed: then the report lists, per quitter path, the
/// tasks that had not returned (name, spawn location, age).
///
/// A `timeout` too large for the clock never expires. Stage budgets in
/// the subtree are kept meanwhile (see [`quitter_core::Stage`]).
pub async fn wait_done(quitter: &Quitter, timeout: Duration) -> Result<(), TimeoutReport> {
    quitter.wait_done_timed(timeout, Timer::after).await
}
