//! tokio as a quitter [`Runtime`]: its timer and its shutdown signals, which
//! is all the core's [`Shutdown`](quitter_core::Shutdown) needs.

use std::io;
use std::time::Duration;

use quitter_core::Runtime;

use crate::signals::{self, SignalStream};

/// The tokio runtime, for [`Shutdown`]: `tokio::time::sleep` and
/// [`signals::shutdown_signals`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Sleep = tokio::time::Sleep;
    type Signals = SignalStream;

    /// # Panics
    ///
    /// When polled outside a tokio runtime with the time driver enabled
    /// (tokio's rule for its timer).
    fn sleep(duration: Duration) -> Self::Sleep {
        tokio::time::sleep(duration)
    }

    fn shutdown_signals() -> io::Result<SignalStream> {
        signals::shutdown_signals()
    }
}

/// The `main` helper on tokio: labelled quit sources + a timeout in,
/// [`ExitReport`](quitter_core::ExitReport) out. See
/// [`quitter_core::Shutdown`] for the methods.
///
/// ```no_run
/// # async fn f() -> Result<(), quitter_tokio::SignalError> {
/// use std::time::Duration;
/// let root = quitter_tokio::Quitter::new("main");
/// let (error_tx, error_rx) = tokio::sync::oneshot::channel::<std::io::Error>();
/// let report = quitter_tokio::Shutdown::new(root)
///     .timeout(Duration::from_secs(5))
///     .signals()?                              // "OS interrupt/termination signal"
///     .source("server error", error_rx)        // an error is the cause's detail, and a failure
///     .run()
///     .await;
/// report.exit(); // prints the report, exits with its code
/// # }
/// ```
pub type Shutdown<'a> = quitter_core::Shutdown<'a, Tokio>;
