//! smol as a quitter [`Runtime`]: `async-io`'s timer and the signals of
//! [`signals`](crate::signals) (`async-signal`'s on unix, the console
//! control events on Windows): the shutdown signals, which is all the core's
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

    /// SIGUSR1 on unix; elsewhere a stream that never yields.
    fn tree_dump_signals() -> io::Result<SignalStream> {
        #[cfg(unix)]
        {
            use futures_util::{future, StreamExt};
            let usr1 = async_signal::Signals::new([async_signal::Signal::Usr1])?;
            // A broken pipe ends the stream (dropping it unregisters it).
            let names = usr1
                .take_while(|got| future::ready(got.is_ok()))
                .map(|_| "SIGUSR1");
            Ok(SignalStream::from_listener(&["SIGUSR1"], names))
        }
        #[cfg(not(unix))]
        Ok(SignalStream::from_listener(
            &[],
            futures_util::stream::pending(),
        ))
    }
}

/// The `main` helper on smol: labelled quit sources, a lame duck and a
/// timeout in, [`ExitReport`](quitter_core::ExitReport) out.
///
/// This is the core's generic `quitter_core::Shutdown<'a, R>` with `R` =
/// [`Smol`] (its timer and signals): its methods are listed below, under
/// *Implementations*. In order: [`new`](#method.new) takes the root;
/// [`signals`](#method.signals) (or [`signals_as`](#method.signals_as))
/// installs the SIGINT/SIGTERM handlers at once, so no signal is missed,
/// and [`source`](#method.source) / [`stream_source`](#method.stream_source)
/// add other quit sources (the first to fire is the cause);
/// [`lame_duck`](#method.lame_duck) drains before the quit and
/// [`timeout`](#method.timeout) bounds the wait after it;
/// [`force_on_second_event`](#method.force_on_second_event) and
/// [`forced_exit_code`](#method.forced_exit_code) tune a second signal;
/// [`run`](#method.run) does it all and returns the report. Any executor
/// can run it (`async-io` drives the timer and the signals).
///
/// # A `main` with a lame duck
///
/// A service is told to leave before it is stopped. On the first signal
/// the root starts *draining* ([`Quitter::start_draining`](crate::Quitter::start_draining)):
/// nothing is refused yet, tasks see [`is_draining`](crate::Quitter::is_draining)
/// (readiness answers 503, responses carry `Connection: close`) or await
/// [`draining()`](crate::Quitter::draining); the quit comes after the lame
/// duck (at once on a second signal; a third ends the wait, exit code
/// 130), and the timeout counts from the quit.
///
/// ```no_run
/// use std::time::Duration;
/// use quitter_smol::{Quitter, Shutdown};
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     smol::block_on(async {
///         let root = Quitter::new("main");
///         let shutdown = Shutdown::new(root.clone())
///             .lame_duck(Duration::from_secs(5)) // 1st signal: drain for 5 s, then quit
///             .timeout(Duration::from_secs(30)) // then 30 s for the tree to return
///             .signals()?;
///
///         let http = root.child("http")?;
///         let server = http.clone();
///         quitter_smol::spawn(&http, "accept loop", async move {
///             let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
///             // Draining does not stop the serving; the quit does.
///             while let Some(accepted) = server.run_until_quit(listener.accept()).await {
///                 let (_stream, _peer) = accepted?;
///                 // While draining, tell clients to leave: `Connection: close`.
///                 let _keep_alive = !server.is_draining();
///             }
///             Ok::<_, std::io::Error>(())
///         })?
///         .detach(); // dropping a smol `Task` would cancel it
///
///         // At the start of the lame duck: leave the load balancer's pool.
///         let draining = root.clone().draining_owned(); // `'static`, no task
///         quitter_smol::spawn(&root, "deregister", async move {
///             draining.await;
///             // … tell the service registry we are going …
///         })?
///         .detach();
///         // A server's own graceful-shutdown hook wants a `'static` future:
///         // `http.clone().quitted_owned()`.
///
///         shutdown.run().await.exit() // prints the report, exits with its code
///     })
/// }
/// ```
///
/// # More quit sources
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
