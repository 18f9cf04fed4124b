//! `systemd::tcp_listener` on tokio: the runtime is asked for before the
//! passed socket is taken (so an error outside a runtime loses nothing),
//! and where the listener came from is said. One test in this binary: it
//! sets the process's environment and its descriptor 3. (The core's
//! `tests/activation.rs` covers the refusals.)
#![cfg(unix)]

use std::io::{self, ErrorKind};
use std::net::TcpListener as StdListener;
use std::os::fd::AsRawFd;

use quitter_tokio::systemd::{tcp_listener, ListenerError, ListenerOrigin};

#[test]
fn a_passed_listener_is_taken_only_inside_a_runtime() {
    // Descriptor 3 must be ours to overwrite: placeholders fill the
    // lowest free ones (leaked on purpose) until 3 is taken by one.
    loop {
        let placeholder = std::fs::File::open("/dev/null").unwrap();
        if placeholder.as_raw_fd() > 3 {
            break;
        }
        std::mem::forget(placeholder);
    }
    let passed = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = passed.local_addr().unwrap();
    // SAFETY: `dup2` has no memory-safety preconditions; 3 holds one of
    // our placeholders, which nothing uses.
    assert_ne!(unsafe { libc::dup2(passed.as_raw_fd(), 3) }, -1);
    std::env::set_var("LISTEN_PID", std::process::id().to_string());
    std::env::set_var("LISTEN_FDS", "1");

    // Outside a runtime: an error, not a panic, and the socket is left
    // where it was.
    let error = tcp_listener("127.0.0.1:0").unwrap_err();
    assert!(matches!(error, ListenerError::Setup(_)), "{error:?}");
    assert!(
        error.to_string().starts_with("cannot set up the listener"),
        "{error}"
    );
    assert_eq!(std::env::var("LISTEN_FDS").as_deref(), Ok("1"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Inside one: the passed socket (the same port), from systemd.
        let (listener, origin) = tcp_listener("127.0.0.1:0").unwrap();
        assert_eq!(origin, ListenerOrigin::Systemd);
        assert_eq!(listener.local_addr().unwrap(), addr);
        let (connected, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        connected.unwrap();
        accepted.unwrap();

        // Nothing passed any more: bound here; a taken port is the
        // bind's own error.
        let (bound, origin) = tcp_listener("127.0.0.1:0").unwrap();
        assert_eq!(origin, ListenerOrigin::Bound);
        assert_ne!(bound.local_addr().unwrap(), addr);
        let error = tcp_listener(addr).unwrap_err();
        assert!(matches!(error, ListenerError::Bind(_)), "{error:?}");
        assert_eq!(io::Error::from(error).kind(), ErrorKind::AddrInUse);
    });
}
