//! Running under systemd (feature `systemd`): socket activation on smol.
//! The notify protocol is [`Shutdown::systemd`](crate::Shutdown::systemd)
//! (see [`Notifier`] for what it sends; a sample unit pair is in
//! `quitter_tokio::systemd` and the README).

use std::net::ToSocketAddrs;

use async_io::Async;
pub use quitter_core::systemd::{ListenerError, ListenerOrigin, Notifier};
use smol::net::TcpListener;

/// The listener systemd passed to this process (socket activation:
/// `LISTEN_FDS`, `LISTEN_PID`), else one bound to `addr`, as a smol
/// listener, with where it came from. See
/// [`quitter_core::systemd::tcp_listener`].
///
/// # Errors
///
/// Binding fails, the inherited descriptor is not a TCP listener, or
/// smol's reactor cannot register it ([`ListenerError::Setup`]).
pub fn tcp_listener(
    addr: impl ToSocketAddrs,
) -> Result<(TcpListener, ListenerOrigin), ListenerError> {
    let (listener, origin) = quitter_core::systemd::tcp_listener(addr)?;
    let listener = Async::new(listener).map_err(ListenerError::Setup)?;
    Ok((listener.into(), origin))
}
