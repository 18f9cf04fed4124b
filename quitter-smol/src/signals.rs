//! OS signals as streams of signal names: on Unix built on `async-signal`,
//! on Windows on the console control events.
//!
//! Each function registers handlers for its signals and returns a
//! [`SignalStream`] that yields the name of every signal received, e.g.
//! `"SIGTERM"`. A stream (not a one-shot future) is what lets the main
//! runner see a second signal and cut a stuck shutdown short. Names are
//! `&'static str`, so they are the quit cause's detail as they are.
//!
//! | function | Unix | Windows (console events) |
//! |---|---|---|
//! | [`interrupt`] | `SIGINT` | `CTRL_C`, `CTRL_BREAK` |
//! | [`terminate`] | `SIGTERM` | `CTRL_SHUTDOWN`, `CTRL_LOGOFF` |
//! | [`hangup`] | `SIGHUP` | `CTRL_CLOSE` |
//! | [`shutdown_signals`] | `SIGINT`, `SIGTERM` | all of the above |
//!
//! The names and the mapping are `quitter-tokio`'s. On Windows a closed
//! console ends the process soon after `CTRL_CLOSE`, so it counts as a
//! shutdown signal there; on Unix `SIGHUP` often means "reload" and is
//! left out.
//!
//! Invariants (Unix):
//! - while a stream lives, its signals no longer have their default effect
//!   (Ctrl-C does not kill the process); several streams may listen to the
//!   same signal, and each sees every delivery;
//! - dropping the last stream for a signal unregisters its handler but (a
//!   `signal-hook-registry` limitation) does not restore the default: the
//!   signal is then ignored;
//! - a stream never ends on its own; if reading a signal pipe fails (an OS
//!   error), that listener is dropped, and the stream ends with the last.
//!
//! # Windows
//!
//! `async-signal` listens only for `CTRL_C_EVENT` there, so this crate
//! registers its own console control handler (`SetConsoleCtrlHandler`,
//! once per process) and forwards the five events to the streams that
//! want them. While a stream lives, its events no longer have their
//! default effect; once no stream wants an event, its default (ending the
//! process) is back. Several streams may listen to the same event, and
//! each sees every delivery (a reader that falls more than 16 events
//! behind misses the excess). A stream never ends.
//!
//! The OS's limits:
//! - `CTRL_CLOSE` (the console window closed, or End task), `CTRL_LOGOFF`
//!   and `CTRL_SHUTDOWN` are final: Windows ends the process as soon as
//!   the handler returns. So, once one of them is delivered, the handler
//!   does not return: it blocks until the process exits, which lets the
//!   shutdown run and the program exit with its report and exit code. But
//!   Windows gives the process only a few seconds after the event, 5 s by
//!   default (20 s for a service at system shutdown), then terminates it:
//!   keep the [`Shutdown`](crate::Shutdown) timeout (and lame duck) within
//!   that, or the report is lost.
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
//! These functions register handlers but claim nothing: the process-wide
//! "installed once" rule is [`Shutdown::signals`](crate::Shutdown::signals)'s.

use std::io;
#[cfg(not(windows))]
use std::pin::Pin;
#[cfg(not(windows))]
use std::task::Poll;

#[cfg(not(windows))]
use async_signal::{Signal, Signals};
#[cfg(not(windows))]
use futures_core::Stream;
#[cfg(not(windows))]
use futures_util::stream;
pub use quitter_core::SignalStream;

#[cfg(windows)]
use crate::console::{self, Event};

/// The signals (or console events) Ctrl-C sends: `SIGINT`; on Windows
/// `CTRL_C` and `CTRL_BREAK`.
///
/// # Errors
///
/// When the OS refuses to register the handler.
pub fn interrupt() -> io::Result<SignalStream> {
    #[cfg(windows)]
    return console::listen(&[Event::CtrlC, Event::CtrlBreak]);
    #[cfg(not(windows))]
    listen(&[Signal::Int])
}

/// The polite "please stop" from a service manager: `SIGTERM`; on Windows
/// `CTRL_SHUTDOWN` and `CTRL_LOGOFF`.
///
/// # Errors
///
/// As [`interrupt`].
pub fn terminate() -> io::Result<SignalStream> {
    #[cfg(windows)]
    return console::listen(&[Event::CtrlShutdown, Event::CtrlLogoff]);
    #[cfg(not(windows))]
    listen(&[Signal::Term])
}

/// The terminal went away: `SIGHUP` (often used for "reload"); on Windows
/// `CTRL_CLOSE` (the console window was closed).
///
/// # Errors
///
/// As [`interrupt`].
pub fn hangup() -> io::Result<SignalStream> {
    #[cfg(windows)]
    return console::listen(&[Event::CtrlClose]);
    #[cfg(not(windows))]
    listen(&[Signal::Hup])
}

/// Any signal that asks the process to shut down: [`interrupt`] or
/// [`terminate`] (and, on Windows, [`hangup`]), as one listener.
///
/// # Errors
///
/// As [`interrupt`].
pub fn shutdown_signals() -> io::Result<SignalStream> {
    #[cfg(windows)]
    return console::listen(&[
        Event::CtrlC,
        Event::CtrlBreak,
        Event::CtrlShutdown,
        Event::CtrlLogoff,
        Event::CtrlClose,
    ]);
    #[cfg(not(windows))]
    listen(&[Signal::Int, Signal::Term])
}

/// Registers `signals` with one `async-signal` listener, as a
/// [`SignalStream`]; the listener drops out if reading its pipe fails.
#[cfg(not(windows))]
fn listen(signals: &'static [Signal]) -> io::Result<SignalStream> {
    let mut listener = Signals::new(signals)?;
    let names: Vec<&'static str> = signals.iter().map(|&signal| signal_name(signal)).collect();
    let received = stream::poll_fn(move |cx| match Pin::new(&mut listener).poll_next(cx) {
        Poll::Ready(Some(Ok(signal))) => Poll::Ready(Some(signal_name(signal))),
        // A broken pipe: this listener ends (dropping it unregisters it).
        Poll::Ready(Some(Err(_)) | None) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    });
    Ok(SignalStream::from_listener(&names, received))
}

/// The conventional name of a signal this module listens to.
#[cfg(not(windows))]
fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Int => "SIGINT",
        Signal::Term => "SIGTERM",
        Signal::Hup => "SIGHUP",
        // Only the signals registered above are delivered.
        _ => "signal",
    }
}
