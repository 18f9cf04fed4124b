//! OS signals as streams of signal names, built on `async-signal`.
//!
//! Each function registers handlers for its signals and returns a
//! [`SignalStream`] that yields the name of every signal received, e.g.
//! `"SIGTERM"`. A stream (not a one-shot future) is what lets the main
//! runner see a second signal and cut a stuck shutdown short. Names are
//! `&'static str`, so they are the quit cause's detail as they are.
//!
//! | function | Unix | Windows |
//! |---|---|---|
//! | [`interrupt`] | `SIGINT` | `CTRL_C` |
//! | [`terminate`] | `SIGTERM` | unsupported (error) |
//! | [`hangup`] | `SIGHUP` | unsupported (error) |
//! | [`shutdown_signals`] | `SIGINT`, `SIGTERM` | `CTRL_C` |
//!
//! `async-signal` delivers only Ctrl-C on Windows (it listens with
//! `SetConsoleCtrlHandler` for `CTRL_C_EVENT` alone), so [`terminate`] and
//! [`hangup`] return an `Unsupported` error there.
//!
//! Invariants:
//! - while a stream lives, its signals no longer have their default effect
//!   (Ctrl-C does not kill the process); several streams may listen to the
//!   same signal, and each sees every delivery;
//! - dropping the last stream for a signal unregisters its handler but (a
//!   `signal-hook-registry` limitation) does not restore the default: the
//!   signal is then ignored;
//! - a stream never ends on its own; if reading a signal pipe fails (an OS
//!   error), that listener is dropped, and the stream ends with the last.
//!
//! These functions register handlers but claim nothing: the process-wide
//! "installed once" rule is [`Shutdown::signals`](crate::Shutdown::signals)'s.

use std::io;
use std::pin::Pin;
use std::task::Poll;

use async_signal::{Signal, Signals};
use futures_core::Stream;
use futures_util::stream;
pub use quitter_core::SignalStream;

/// The signal Ctrl-C sends: `SIGINT`; on Windows `CTRL_C`.
///
/// # Errors
///
/// When the OS refuses to register the handler.
pub fn interrupt() -> io::Result<SignalStream> {
    listen(&[Signal::Int])
}

/// The polite "please stop" from a service manager: `SIGTERM`.
///
/// # Errors
///
/// As [`interrupt`]; always `Unsupported` on Windows.
pub fn terminate() -> io::Result<SignalStream> {
    unix_only(&[Signal::Term])
}

/// The terminal went away: `SIGHUP` (often used for "reload").
///
/// # Errors
///
/// As [`interrupt`]; always `Unsupported` on Windows.
pub fn hangup() -> io::Result<SignalStream> {
    unix_only(&[Signal::Hup])
}

/// Any signal that asks the process to shut down: [`interrupt`] or
/// [`terminate`] (only Ctrl-C on Windows).
///
/// # Errors
///
/// As [`interrupt`].
pub fn shutdown_signals() -> io::Result<SignalStream> {
    #[cfg(windows)]
    return listen(&[Signal::Int]);
    #[cfg(not(windows))]
    listen(&[Signal::Int, Signal::Term])
}

fn unix_only(signals: &'static [Signal]) -> io::Result<SignalStream> {
    #[cfg(windows)]
    return Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "{} is not delivered on Windows (only Ctrl-C is)",
            signal_name(signals[0])
        ),
    ));
    #[cfg(not(windows))]
    listen(signals)
}

/// Registers `signals` with one `async-signal` listener, as a
/// [`SignalStream`]; the listener drops out if reading its pipe fails.
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
fn signal_name(signal: Signal) -> &'static str {
    match signal {
        #[cfg(windows)]
        Signal::Int => "CTRL_C",
        #[cfg(not(windows))]
        Signal::Int => "SIGINT",
        Signal::Term => "SIGTERM",
        Signal::Hup => "SIGHUP",
        // Only the signals registered above are delivered.
        _ => "signal",
    }
}
