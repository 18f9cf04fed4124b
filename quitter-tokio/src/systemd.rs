//! Running under systemd (feature `systemd`): socket activation on tokio.
//! The notify protocol is [`Shutdown::systemd`](crate::Shutdown::systemd)
//! (see [`Notifier`] for what it sends).
//!
//! A sample unit pair (the socket unit holds the port across restarts):
//!
//! ```ini
//! # /etc/systemd/system/hello.socket
//! [Socket]
//! ListenStream=8080
//!
//! # /etc/systemd/system/hello.service
//! [Service]
//! Type=notify
//! ExecStart=/usr/local/bin/hello --lame-duck 5s --shutdown-timeout 20s --quit-timeout 25s
//! # above the lame duck plus the quit timeout: quitter's deadline first
//! TimeoutStopSec=35
//! ```
//!
//! Call [`tcp_listener`] early in `main` (it reads and unsets
//! `LISTEN_FDS`, `LISTEN_PID`).

use std::io;
use std::net::ToSocketAddrs;

pub use quitter_core::systemd::{ListenerError, ListenerOrigin, Notifier};
use tokio::net::TcpListener;

/// The listener systemd passed to this process (socket activation:
/// `LISTEN_FDS`, `LISTEN_PID`), else one bound to `addr`, as a tokio
/// listener, with where it came from. See
/// [`quitter_core::systemd::tcp_listener`].
///
/// # Errors
///
/// Binding fails, the inherited descriptor is not a TCP listener, or
/// there is no tokio runtime (with I/O enabled) to register it with
/// ([`ListenerError::Setup`]).
pub fn tcp_listener(
    addr: impl ToSocketAddrs,
) -> Result<(TcpListener, ListenerOrigin), ListenerError> {
    // Asked first: without a runtime, an inherited socket is not taken
    // (and lost with the error).
    tokio::runtime::Handle::try_current()
        .map_err(|error| ListenerError::Setup(io::Error::other(error)))?;
    let (listener, origin) = quitter_core::systemd::tcp_listener(addr)?;
    let listener = TcpListener::from_std(listener).map_err(ListenerError::Setup)?;
    Ok((listener, origin))
}
