//! Socket activation: a listener handed over by the service manager
//! (systemd's `LISTEN_FDS`/`LISTEN_PID`, through the `listenfd` crate),
//! or bound here when there is none. Runtime-free: the adapters turn the
//! std listener into their runtime's.
//!
//! Invariants:
//! - the inherited descriptor is taken at most once per process:
//!   `listenfd` reads `LISTEN_FDS` (and `LISTEN_FDS_FIRST_FD`) and unsets
//!   `LISTEN_FDS` and `LISTEN_PID`, taking the descriptors only if
//!   `LISTEN_PID` names this process or is unset; so call it early,
//!   before threads that read the environment (C's `getenv`) run;
//! - exactly one descriptor, a TCP socket that is not connected (a
//!   listener), or the result is an error: nothing is bound instead, so a
//!   misconfigured socket unit (two sockets, `Accept=yes`, a UDP socket)
//!   is not hidden.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{TcpListener, ToSocketAddrs};

/// Where the listener of [`tcp_listener`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerOrigin {
    /// Passed by systemd (socket activation).
    Systemd,
    /// Bound here, to the address given: systemd passed nothing.
    Bound,
}

impl fmt::Display for ListenerOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenerOrigin::Systemd => "socket from systemd",
            ListenerOrigin::Bound => "bound here",
        })
    }
}

/// Why [`tcp_listener`] gave no listener. Converts into an
/// [`io::Error`] (for `?` in a function that returns one).
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenerError {
    /// systemd passed more than one socket (`LISTEN_FDS`); which to take is
    /// not guessed.
    TooManySockets {
        /// How many it passed.
        passed: usize,
    },
    /// The socket systemd passed is not a TCP socket (a UDP or unix one).
    NotTcp(io::Error),
    /// The socket systemd passed is a connection, not a listener (a socket
    /// unit with `Accept=yes`).
    Connected,
    /// Nothing was passed, and binding the address failed.
    Bind(io::Error),
    /// The listener could not be set up: made non-blocking, or registered
    /// with the runtime (the adapters).
    Setup(io::Error),
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerError::TooManySockets { passed } => write!(
                f,
                "systemd passed {passed} sockets (LISTEN_FDS); tcp_listener takes one"
            ),
            ListenerError::NotTcp(error) => {
                write!(f, "the socket systemd passed is not a TCP socket: {error}")
            }
            ListenerError::Connected => f.write_str(
                "the socket systemd passed is a connection, not a listener (Accept=yes?)",
            ),
            ListenerError::Bind(error) => error.fmt(f),
            ListenerError::Setup(error) => write!(f, "cannot set up the listener: {error}"),
        }
    }
}

impl Error for ListenerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ListenerError::NotTcp(error)
            | ListenerError::Bind(error)
            | ListenerError::Setup(error) => Some(error),
            ListenerError::TooManySockets { .. } | ListenerError::Connected => None,
        }
    }
}

impl From<ListenerError> for io::Error {
    /// The bind or setup error itself; a refused socket is
    /// [`InvalidInput`](io::ErrorKind::InvalidInput), with this error
    /// inside.
    fn from(error: ListenerError) -> io::Error {
        match error {
            ListenerError::Bind(error) | ListenerError::Setup(error) => error,
            refused => io::Error::new(io::ErrorKind::InvalidInput, refused),
        }
    }
}

/// The listener systemd passed to this process (a `.socket` unit), else
/// one bound to `addr`; non-blocking either way, with where it came from.
///
/// With socket activation, the socket outlives the process: connections
/// that arrive while it restarts wait in the kernel's queue, and none is
/// refused.
///
/// # Errors
///
/// Binding `addr` fails; systemd passed more than one descriptor; the one
/// passed is not a TCP socket, or is a connected one (`Accept=yes`).
pub fn tcp_listener(
    addr: impl ToSocketAddrs,
) -> Result<(TcpListener, ListenerOrigin), ListenerError> {
    let mut inherited = listenfd::ListenFd::from_env();
    if inherited.len() > 1 {
        return Err(ListenerError::TooManySockets {
            passed: inherited.len(),
        });
    }
    let (listener, origin) = match inherited.take_tcp_listener(0) {
        Ok(Some(listener)) => (listener, ListenerOrigin::Systemd),
        Ok(None) => (
            TcpListener::bind(addr).map_err(ListenerError::Bind)?,
            ListenerOrigin::Bound,
        ),
        Err(error) => return Err(ListenerError::NotTcp(error)),
    };
    // A connected socket has a peer; a listener has none.
    if origin == ListenerOrigin::Systemd && socket2::SockRef::from(&listener).peer_addr().is_ok() {
        return Err(ListenerError::Connected);
    }
    listener
        .set_nonblocking(true)
        .map_err(ListenerError::Setup)?;
    Ok((listener, origin))
}
