//! [`NotifySocket`]: where systemd's notifications go (`$NOTIFY_SOCKET`):
//! a unix datagram socket, named by a path or, on Linux, by an abstract
//! name (`@name`), as `sd_notify(3)` accepts. (The `sd-notify` crate
//! connects the variable as a path, so an abstract address never
//! receives anything; this is the few lines it would take.)
//!
//! Invariants: the address is read once, when the socket is made; every
//! message is one datagram sent without blocking (a full queue drops it:
//! the shutdown never waits on systemd); a failure is returned to the
//! caller, which drops it.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// An unbound datagram socket and the address of systemd's.
#[derive(Debug)]
pub(crate) struct NotifySocket {
    socket: UnixDatagram,
    to: SocketAddr,
}

impl NotifySocket {
    /// From `$NOTIFY_SOCKET`: `None` if unset or empty, an error if the
    /// address cannot be used.
    pub(crate) fn from_env() -> Option<io::Result<NotifySocket>> {
        let address = std::env::var_os("NOTIFY_SOCKET").filter(|value| !value.is_empty())?;
        Some(Self::new(&address))
    }

    pub(crate) fn new(address: &std::ffi::OsStr) -> io::Result<NotifySocket> {
        let to = address_of(address)?;
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(NotifySocket { socket, to })
    }

    /// Sends `message` (newline-separated `VARIABLE=value` lines) as one
    /// datagram.
    pub(crate) fn send(&self, message: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.to)
            .map(drop)
    }
}

/// `@name` is an abstract address (Linux); anything else a path.
fn address_of(address: &std::ffi::OsStr) -> io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = address.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            return SocketAddr::from_abstract_name(name);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "an abstract $NOTIFY_SOCKET address needs Linux",
            ));
        }
    }
    SocketAddr::from_pathname(address)
}
