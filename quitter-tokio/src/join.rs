//! The timed join: [`Quitter::wait_done_until`] with tokio's timer.
//!
//! It does not quit anything: quit first, then wait. The time-out report
//! is a snapshot taken when the timer fires.

use std::time::Duration;

use quitter_core::{Quitter, TimeoutReport};

/// Waits until `quitter` has quit and every task of its subtree has ended,
/// for at most `timeout`.
///
/// Stage budgets in the subtree are kept meanwhile (see
/// [`quitter_core::Stage`]): a stage that overruns its budget has the next
/// one quit anyway. On time-out, the [`TimeoutReport`] names every quitter of the subtree
/// that still has live tasks, and each task's name, spawn location and age.
///
/// # Panics
///
/// When polled outside a tokio runtime with the time driver enabled, like
/// [`tokio::time::sleep`].
pub async fn wait_done(quitter: &Quitter, timeout: Duration) -> Result<(), TimeoutReport> {
    quitter.wait_done_timed(timeout, tokio::time::sleep).await
}
