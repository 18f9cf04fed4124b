//! Socket activation's refusals: what systemd passed must be exactly one
//! listening TCP socket, else `tcp_listener` says so (and binds nothing
//! instead). One test in this binary: it sets the process's environment
//! and its descriptor 3.
#![cfg(all(feature = "systemd", unix))]

use std::io::{self, ErrorKind};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;

use quitter_core::systemd::{tcp_listener, ListenerError, ListenerOrigin};

/// Puts a copy of `fd` at descriptor 3 (and `extra` more after it), and
/// says so in the environment, as systemd does for this process.
fn pass(fd: i32, extra: i32) {
    for at in 3..=3 + extra {
        // SAFETY: `dup2` has no memory-safety preconditions; descriptors
        // 3 and up are this test's own (nothing else in this binary opens
        // files while it runs).
        assert_ne!(unsafe { libc::dup2(fd, at) }, -1);
    }
    std::env::set_var("LISTEN_PID", std::process::id().to_string());
    std::env::set_var("LISTEN_FDS", (1 + extra).to_string());
}

/// Makes sure no descriptor of ours is 3 or 4: the copies go there, and
/// `tcp_listener` takes ownership of 3. Whatever held the lowest free
/// ones is leaked on purpose (placeholders, never closed by us).
fn keep_3_and_4_for_the_copies() {
    loop {
        let placeholder = std::fs::File::open("/dev/null").unwrap();
        if placeholder.as_raw_fd() > 4 {
            return;
        }
        std::mem::forget(placeholder);
    }
}

#[test]
fn only_one_listening_tcp_socket_is_taken() {
    keep_3_and_4_for_the_copies();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _client = TcpStream::connect(addr).unwrap();
    let (connection, _) = listener.accept().unwrap();

    // A UDP socket: refused, nothing bound instead.
    pass(udp.as_raw_fd(), 0);
    let error = tcp_listener("127.0.0.1:0").unwrap_err();
    assert!(matches!(error, ListenerError::NotTcp(_)), "{error:?}");
    assert!(error.to_string().contains("not a TCP socket"), "{error}");
    assert_eq!(io::Error::from(error).kind(), ErrorKind::InvalidInput);

    // A connection (a unit with `Accept=yes`): refused.
    pass(connection.as_raw_fd(), 0);
    let error = tcp_listener("127.0.0.1:0").unwrap_err();
    assert!(matches!(error, ListenerError::Connected), "{error:?}");
    assert!(error.to_string().contains("not a listener"), "{error}");

    // Two sockets: refused, by count.
    pass(listener.as_raw_fd(), 1);
    let error = tcp_listener("127.0.0.1:0").unwrap_err();
    assert!(
        matches!(error, ListenerError::TooManySockets { passed: 2 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("passed 2 sockets"), "{error}");

    // One listener: taken (the same port), and the variables are gone.
    pass(listener.as_raw_fd(), 0);
    let (taken, origin) = tcp_listener("127.0.0.1:0").unwrap();
    assert_eq!(origin, ListenerOrigin::Systemd);
    assert_eq!(taken.local_addr().unwrap(), addr);
    assert!(std::env::var_os("LISTEN_FDS").is_none());

    // Nothing passed: bound here.
    let (bound, origin) = tcp_listener("127.0.0.1:0").unwrap();
    assert_eq!(origin, ListenerOrigin::Bound);
    assert_ne!(bound.local_addr().unwrap(), addr);

    // A bind that fails: its own error, kind and all.
    let error = tcp_listener(addr).unwrap_err();
    assert!(matches!(error, ListenerError::Bind(_)), "{error:?}");
    assert_eq!(io::Error::from(error).kind(), ErrorKind::AddrInUse);
}
