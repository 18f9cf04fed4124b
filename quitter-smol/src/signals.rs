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

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_signal::{Signal, Signals};
use futures_core::Stream;

/// The signal Ctrl-C sends: `SIGINT`; on Windows `CTRL_C`.
///
/// # Errors
///
/// When the OS refuses to register the handler.
pub fn interrupt() -> io::Result<SignalStream> {
    SignalStream::listen(&[Signal::Int])
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
    return SignalStream::listen(&[Signal::Int]);
    #[cfg(not(windows))]
    SignalStream::listen(&[Signal::Int, Signal::Term])
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
    SignalStream::listen(signals)
}

/// A stream of received signals, by name (`"SIGINT"`, `"SIGTERM"`, …).
///
/// It never ends on its own. When several are merged with
/// [`or`](Self::or), they are polled in turn, so none starves the others.
/// Deliveries are buffered in a small pipe per listener: a burst of signals
/// that overflows it is seen in part.
#[must_use = "streams do nothing unless polled"]
pub struct SignalStream {
    /// Each listener with the signals it was registered for.
    listeners: Vec<(Signals, &'static [Signal])>,
    /// Where the next poll starts, for fairness.
    next: usize,
}

impl SignalStream {
    fn listen(signals: &'static [Signal]) -> io::Result<SignalStream> {
        Ok(SignalStream {
            listeners: vec![(Signals::new(signals)?, signals)],
            next: 0,
        })
    }

    /// This stream and `other`, merged.
    pub fn or(mut self, other: SignalStream) -> SignalStream {
        self.listeners.extend(other.listeners);
        self
    }

    /// The next signal's name; `None` only if every listener failed.
    pub async fn recv(&mut self) -> Option<&'static str> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next signal's name.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<&'static str>> {
        let mut offset = 0;
        while offset < self.listeners.len() {
            let index = (self.next + offset) % self.listeners.len();
            match Pin::new(&mut self.listeners[index].0).poll_next(cx) {
                Poll::Ready(Some(Ok(signal))) => {
                    self.next = (index + 1) % self.listeners.len();
                    return Poll::Ready(Some(signal_name(signal)));
                }
                Poll::Ready(Some(Err(_)) | None) => {
                    // This listener is broken: drop it (which unregisters
                    // its handlers) and look at the one now in its place.
                    self.listeners.remove(index);
                    self.next = 0;
                    offset = 0;
                }
                Poll::Pending => offset += 1,
            }
        }
        if self.listeners.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl Stream for SignalStream {
    type Item = &'static str;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<&'static str>> {
        self.get_mut().poll_recv(cx)
    }
}

impl fmt::Debug for SignalStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = (self.listeners.iter())
            .flat_map(|(_, signals)| signals.iter().map(|&signal| signal_name(signal)))
            .collect();
        f.debug_struct("SignalStream")
            .field("signals", &names)
            .finish()
    }
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
