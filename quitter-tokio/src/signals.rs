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
//! "reload" and is left out.
//!
//! Caveat (tokio's): once tokio's handler is installed for a signal, it
//! stays installed; when no stream listens, that signal is ignored rather
//! than ending the process.
//!
//! These functions install handlers but claim nothing: the process-wide
//! "installed once" rule is [`Shutdown::signals`](crate::Shutdown::signals)'s.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

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
    return unix::listen(&[(unix::SignalKind::interrupt(), "SIGINT")]);
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
    return unix::listen(&[(unix::SignalKind::terminate(), "SIGTERM")]);
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
    return unix::listen(&[(unix::SignalKind::hangup(), "SIGHUP")]);
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

/// A stream of received signals, by name (`"SIGINT"`, `"CTRL_C"`, …).
///
/// It never ends on its own. When several signals are merged, they are
/// polled in turn, so none starves the others. Like tokio's listeners,
/// signals that arrive before the stream is polled are coalesced: a burst
/// of the same signal may be seen once.
#[must_use = "streams do nothing unless polled"]
pub struct SignalStream {
    listeners: Vec<(Listener, &'static str)>,
    /// Where the next poll starts, for fairness.
    next: usize,
}

impl SignalStream {
    /// This stream and `other`, merged.
    pub fn or(mut self, other: SignalStream) -> SignalStream {
        self.listeners.extend(other.listeners);
        self
    }

    /// The next signal's name; `None` only if every listener ended (tokio
    /// never ends them while the runtime runs).
    pub async fn recv(&mut self) -> Option<&'static str> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next signal's name.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<&'static str>> {
        let count = self.listeners.len();
        let mut ended = 0;
        for offset in 0..count {
            let index = (self.next + offset) % count;
            let (listener, name) = &mut self.listeners[index];
            match listener.poll_recv(cx) {
                Poll::Ready(Some(())) => {
                    self.next = (index + 1) % count;
                    return Poll::Ready(Some(*name));
                }
                Poll::Ready(None) => ended += 1,
                Poll::Pending => {}
            }
        }
        if ended == count {
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
        let names: Vec<&str> = self.listeners.iter().map(|(_, name)| *name).collect();
        f.debug_struct("SignalStream")
            .field("signals", &names)
            .finish()
    }
}

/// tokio's checks for a runtime panic; ours is an error.
fn require_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(io::Error::other)
}

/// One tokio signal listener.
enum Listener {
    #[cfg(unix)]
    Unix(tokio::signal::unix::Signal),
    #[cfg(windows)]
    Windows(windows::Console),
}

impl Listener {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        match self {
            #[cfg(unix)]
            Listener::Unix(signal) => signal.poll_recv(cx),
            #[cfg(windows)]
            Listener::Windows(console) => console.poll_recv(cx),
            #[cfg(not(any(unix, windows)))]
            _ => {
                let _ = cx;
                Poll::Ready(None)
            }
        }
    }
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

    pub(super) use tokio::signal::unix::SignalKind;

    use super::{require_runtime, Listener, SignalStream};

    pub(super) fn listen(kinds: &[(SignalKind, &'static str)]) -> io::Result<SignalStream> {
        require_runtime()?;
        let listeners = kinds
            .iter()
            .map(|&(kind, name)| Ok((Listener::Unix(tokio::signal::unix::signal(kind)?), name)))
            .collect::<io::Result<_>>()?;
        Ok(SignalStream { listeners, next: 0 })
    }
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::task::{Context, Poll};

    use tokio::signal::windows as console;

    use super::{require_runtime, Listener, SignalStream};

    /// The console event listeners tokio has, one type each.
    pub(super) enum Console {
        CtrlC(console::CtrlC),
        CtrlBreak(console::CtrlBreak),
        CtrlClose(console::CtrlClose),
        CtrlShutdown(console::CtrlShutdown),
        CtrlLogoff(console::CtrlLogoff),
    }

    impl Console {
        pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
            match self {
                Console::CtrlC(l) => l.poll_recv(cx),
                Console::CtrlBreak(l) => l.poll_recv(cx),
                Console::CtrlClose(l) => l.poll_recv(cx),
                Console::CtrlShutdown(l) => l.poll_recv(cx),
                Console::CtrlLogoff(l) => l.poll_recv(cx),
            }
        }
    }

    fn one(console: Console, name: &'static str) -> SignalStream {
        SignalStream {
            listeners: vec![(Listener::Windows(console), name)],
            next: 0,
        }
    }

    pub(super) fn interrupt() -> io::Result<SignalStream> {
        require_runtime()?;
        Ok(one(Console::CtrlC(console::ctrl_c()?), "CTRL_C").or(one(
            Console::CtrlBreak(console::ctrl_break()?),
            "CTRL_BREAK",
        )))
    }

    pub(super) fn terminate() -> io::Result<SignalStream> {
        require_runtime()?;
        Ok(one(
            Console::CtrlShutdown(console::ctrl_shutdown()?),
            "CTRL_SHUTDOWN",
        )
        .or(one(
            Console::CtrlLogoff(console::ctrl_logoff()?),
            "CTRL_LOGOFF",
        )))
    }

    pub(super) fn hangup() -> io::Result<SignalStream> {
        require_runtime()?;
        Ok(one(
            Console::CtrlClose(console::ctrl_close()?),
            "CTRL_CLOSE",
        ))
    }
}
