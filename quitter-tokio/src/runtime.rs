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

    /// SIGUSR1 on unix; elsewhere a stream that never yields.
    fn tree_dump_signals() -> io::Result<SignalStream> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, Signal, SignalKind};
            tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
            let mut usr1 = signal(SignalKind::user_defined1())?;
            let names = futures_util::stream::poll_fn(move |cx| {
                Signal::poll_recv(&mut usr1, cx).map(|got| got.map(|()| "SIGUSR1"))
            });
            Ok(SignalStream::from_listener(&["SIGUSR1"], names))
        }
        #[cfg(not(unix))]
        Ok(SignalStream::from_listener(
            &[],
            futures_util::stream::pending(),
        ))
    }
}

/// The `main` helper on tokio: labelled quit sources, a lame duck and a
/// timeout in, [`ExitReport`](quitter_core::ExitReport) out.
///
/// This is the core's generic `quitter_core::Shutdown<'a, R>` with `R` =
/// [`Tokio`] (its timer and signals): its methods are listed below, under
/// *Implementations*. In order: [`new`](#method.new) takes the root;
/// [`signals`](#method.signals) (or [`signals_as`](#method.signals_as))
/// installs the SIGINT/SIGTERM handlers at once, so no signal is missed,
/// and [`source`](#method.source) / [`stream_source`](#method.stream_source)
/// add other quit sources (the first to fire is the cause);
/// [`lame_duck`](#method.lame_duck) drains before the quit and
/// [`timeout`](#method.timeout) bounds the wait after it;
/// [`force_on_second_event`](#method.force_on_second_event) and
/// [`forced_exit_code`](#method.forced_exit_code) tune a second signal;
/// [`run`](#method.run) does it all and returns the report.
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
/// use quitter_tokio::{Quitter, Shutdown};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let root = Quitter::new("main");
///     let shutdown = Shutdown::new(root.clone())
///         .lame_duck(Duration::from_secs(5)) // 1st signal: drain for 5 s, then quit
///         .timeout(Duration::from_secs(30)) // then 30 s for the tree to return
///         .signals()?;
///
///     let http = root.child("http")?;
///     let server = http.clone();
///     quitter_tokio::spawn(&http, "accept loop", async move {
///         let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
///         // Draining does not stop the serving; the quit does.
///         while let Some(accepted) = server.run_until_quit(listener.accept()).await {
///             let (_stream, _peer) = accepted?;
///             // While draining, tell clients to leave: `Connection: close`.
///             let _keep_alive = !server.is_draining();
///         }
///         Ok::<_, std::io::Error>(())
///     })?;
///
///     // At the start of the lame duck: leave the load balancer's pool.
///     let draining = root.clone().draining_owned(); // `'static`, no task
///     quitter_tokio::spawn(&root, "deregister", async move {
///         draining.await;
///         // … tell the service registry we are going …
///     })?;
///     // A server's own graceful-shutdown hook wants a `'static` future:
///     // `.with_graceful_shutdown(http.clone().quitted_owned())`.
///
///     shutdown.run().await.exit() // prints the report, exits with its code
/// }
/// ```
///
/// # More quit sources
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
