//! smol as a quitter [`Runtime`]: `async-io`'s timer and `async-signal`'s
//! shutdown signals, which is all the core's
//! [`Shutdown`](quitter_core::Shutdown) needs. Neither needs a particular
//! executor: `smol::block_on` (or any) runs the shutdown, since `async-io`
//! drives its own timers and signal pipes.

use std::io;
use std::time::Duration;

use async_io::Timer;
use quitter_core::Runtime;

use crate::signals::{self, SignalStream};

/// The smol runtime, for [`Shutdown`]: `async_io::Timer` and
/// [`signals::shutdown_signals`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Smol;

impl Runtime for Smol {
    type Sleep = Timer;
    type Signals = SignalStream;

    /// A timeout too large for the clock never expires.
    fn sleep(duration: Duration) -> Timer {
        Timer::after(duration)
    }

    fn shutdown_signals() -> io::Result<SignalStream> {
        signals::shutdown_signals()
    }
}

/// The `main` helper on smol: labelled quit sources + a timeout in,
/// [`ExitReport`](quitter_core::ExitReport) out. See
/// [`quitter_core::Shutdown`] for the methods.
///
/// ```no_run
/// # async fn f() -> Result<(), quitter_smol::SignalError> {
/// use std::time::Duration;
/// let root = quitter_smol::Quitter::new("main");
/// let (error_tx, error_rx) = smol::channel::bounded::<std::io::Error>(1);
/// let report = quitter_smol::Shutdown::new(root)
///     .timeout(Duration::from_secs(5))
///     .signals()?                                 // "OS interrupt/termination signal"
///     .source("server error", error_rx.recv())    // an error is the cause's detail, and a failure
///     .run()
///     .await;
/// report.exit(); // prints the report, exits with its code
/// # }
/// ```
pub type Shutdown<'a> = quitter_core::Shutdown<'a, Smol>;
