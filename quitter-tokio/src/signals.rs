//! OS signals as streams of signal names, built on [`tokio::signal`].
//!
//! Each function installs tokio's handler for its signals (once per process
//! and signal, by tokio; harmless to repeat) and returns a [`SignalStream`]
//! that yields the name of every signal received, e.g. `"SIGTERM"`. A
//! stream (not a one-shot future) is what lets the main runner see a second
//! signal and cut a stuck shutdown short. Names are `&'static str`, so they
//! are the quit cause's detail as they are.
//!
//! | function | Unix | Windows (console events) |
//! |---|---|---|
//! | [`interrupt`] | `SIGINT` | `CTRL_C`, `CTRL_BREAK` |
//! | [`terminate`] | `SIGTERM` | `CTRL_SHUTDOWN`, `CTRL_LOGOFF` |
//! | [`hangup`] | `SIGHUP` | `CTRL_CLOSE` |
//! | [`shutdown_signals`] | `SIGINT`, `SIGTERM` | all of the above |
//!
//! On Windows a closed console ends the process soon after `CTRL_CLOSE`,
//! so it counts as a shutdown signal there; on Unix `SIGHUP` often means
//! "reload" and is left out. `quitter-smol` uses the same names and
//! mapping.
//!
//! Caveat (tokio's, Unix): once tokio's handler is installed for a signal,
//! it stays installed; when no stream listens, that signal is ignored
//! rather than ending the process. On Windows, an event no stream listens
//! to any more has its default effect again (it ends the process).
//!
//! # Windows
//!
//! tokio registers one console control handler (`SetConsoleCtrlHandler`)
//! and wakes the listeners of each event; a burst of one event may reach
//! a listener as one (tokio coalesces). The OS's limits:
//! - `CTRL_CLOSE` (the console window closed, or End task), `CTRL_LOGOFF`
//!   and `CTRL_SHUTDOWN` are final: Windows ends the process as soon as
//!   the handler returns. Once one of them is delivered, tokio's handler
//!   does not return: its thread blocks until the process exits, which lets
//!   the shutdown run on the runtime and the program exit with its report
//!   and exit code. But Windows gives the process only a few seconds after
//!   the event, 5 s by default (20 s for a service at system shutdown),
//!   then terminates it: keep the [`Shutdown`](crate::Shutdown) timeout
//!   (and lame duck) within that, or the report is lost.
//! - `CTRL_LOGOFF` and `CTRL_SHUTDOWN` reach only services (and console
//!   processes that have not loaded `user32.dll`/`gdi32.dll`): an
//!   interactive program is terminated at logoff or shutdown without them.
//!   A service gets `CTRL_LOGOFF` when *any* user logs off; a service that
//!   must outlive that should listen to [`interrupt`] and [`hangup`]
//!   rather than [`shutdown_signals`], and take its stop from the service
//!   control manager.
//! - `CTRL_C` and `CTRL_BREAK` have no time limit. A program started with
//!   Ctrl-C disabled (`CREATE_NEW_PROCESS_GROUP`) does not get `CTRL_C`.
//!
//! These functions install handlers but claim nothing: the process-wide
//! "installed once" rule is [`Shutdown::signals`](crate::Shutdown::signals)'s.

use std::io;
use std::task::{Context, Poll};

use futures_util::stream;
pub use quitter_core::SignalStream;

/// The signals (or console events) Ctrl-C sends: `SIGINT`; on Windows
/// `CTRL_C` and `CTRL_BREAK`.
///
/// # Errors
///
/// Outside a tokio runtime, or when the handler cannot be installed.
///
/// # Panics
///
/// In a tokio runtime built without its I/O driver (tokio's rule).
pub fn interrupt() -> io::Result<SignalStream> {
    #[cfg(unix)]
    return unix::listen(unix::SignalKind::interrupt(), "SIGINT");
    #[cfg(windows)]
    return windows::interrupt();
    #[cfg(not(any(unix, windows)))]
    return unsupported();
}

/// The polite "please stop" from a service manager: `SIGTERM`; on Windows
/// `CTRL_SHUTDOWN` and `CTRL_LOGOFF`.
///
/// # Errors and panics
///
/// As [`interrupt`].
pub fn terminate() -> io::Result<SignalStream> {
    #[cfg(unix)]
    return unix::listen(unix::SignalKind::terminate(), "SIGTERM");
    #[cfg(windows)]
    return windows::terminate();
    #[cfg(not(any(unix, windows)))]
    return unsupported();
}

/// The terminal went away: `SIGHUP`; on Windows `CTRL_CLOSE` (the console
/// window was closed).
///
/// # Errors and panics
///
/// As [`interrupt`].
pub fn hangup() -> io::Result<SignalStream> {
    #[cfg(unix)]
    return unix::listen(unix::SignalKind::hangup(), "SIGHUP");
    #[cfg(windows)]
    return windows::hangup();
    #[cfg(not(any(unix, windows)))]
    return unsupported();
}

/// Any signal that asks the process to shut down: [`interrupt`] or
/// [`terminate`] (and, on Windows, [`hangup`]).
///
/// # Errors and panics
///
/// As [`interrupt`].
pub fn shutdown_signals() -> io::Result<SignalStream> {
    let signals = interrupt()?.or(terminate()?);
    #[cfg(windows)]
    let signals = signals.or(hangup()?);
    Ok(signals)
}

/// One tokio listener as a [`SignalStream`] yielding `name`.
fn listener<L>(
    name: &'static str,
    mut listener: L,
    poll_recv: fn(&mut L, &mut Context<'_>) -> Poll<Option<()>>,
) -> SignalStream
where
    L: Send + 'static,
{
    let names =
        stream::poll_fn(move |cx| poll_recv(&mut listener, cx).map(|got| got.map(|()| name)));
    SignalStream::from_listener(&[name], names)
}

/// tokio's checks for a runtime panic; ours is an error.
fn require_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(io::Error::other)
}

#[cfg(not(any(unix, windows)))]
fn unsupported() -> io::Result<SignalStream> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "signals are not supported on this platform",
    ))
}

#[cfg(unix)]
mod unix {
    use std::io;

    use tokio::signal::unix::Signal;
    pub(super) use tokio::signal::unix::SignalKind;

    use super::{listener, require_runtime, SignalStream};

    pub(super) fn listen(kind: SignalKind, name: &'static str) -> io::Result<SignalStream> {
        require_runtime()?;
        let signal = tokio::signal::unix::signal(kind)?;
        Ok(listener(name, signal, Signal::poll_recv))
    }
}

#[cfg(windows)]
mod windows {
    use std::io;

    use tokio::signal::windows as console;

    use super::{listener, require_runtime, SignalStream};

    pub(super) fn interrupt() -> io::Result<SignalStream> {
        require_runtime()?;
        Ok(
            listener("CTRL_C", console::ctrl_c()?, console::CtrlC::poll_recv).or(listener(
                "CTRL_BREAK",
                console::ctrl_break()?,
                console::CtrlBreak::poll_recv,
            )),
        )
    }

    pub(super) fn terminate() -> io::Result<SignalStream> {
        require_runtime()?;
        Ok(listener(
            "CTRL_SHUTDOWN",
            console::ctrl_shutdown()?,
            console::CtrlShutdown::poll_recv,
        )
        .or(listener(
            "CTRL_LOGOFF",
            console::ctrl_logoff()?,
            console::CtrlLogoff::poll_recv,
        )))
    }

    pub(super) fn hangup() -> io::Result<SignalStream> {
        require_runtime()?;
        Ok(listener(
            "CTRL_CLOSE",
            console::ctrl_close()?,
            console::CtrlClose::poll_recv,
        ))
    }
}
