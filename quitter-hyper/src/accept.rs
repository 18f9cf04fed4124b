//! The accept loop: a connection at a time, each in a child quitter of its
//! own, until the quit. Runtime-free: the adapter gives the accept call
//! and the spawn.
//!
//! Invariants:
//! - the quit is looked at before each accept, and ends the loop at once:
//!   the listener is dropped with the loop (new connections are refused);
//!   draining changes nothing here (the lame duck keeps accepting);
//! - each connection is handed to `serve` with a child quitter named by its
//!   peer's address; if the quitter quit since (the child or the task is
//!   refused), the loop ends and that stream is closed;
//! - an accept error about one connection (reset, aborted, refused) is
//!   skipped; any other ends the loop with that error.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;

use quitter_core::{AlreadyQuit, Quitter};

/// Accepts with `accept` until `quitter` quits, handing each connection
/// to `serve` with a new child of `quitter` named by the peer's address
/// (`serve` spawns it, e.g. [`serve_connection`](crate::serve_connection)
/// as a tracked task of that child). Ends with `Ok(())` on the quit, or
/// with the first accept error that is not about a single connection.
pub async fn accept_until_quit<C, A>(
    quitter: &Quitter,
    mut accept: impl FnMut() -> A,
    mut serve: impl FnMut(&Quitter, C) -> Result<(), AlreadyQuit>,
) -> io::Result<()>
where
    A: Future<Output = io::Result<(C, SocketAddr)>>,
{
    let mut quitted = pin!(quitter.quitted());
    loop {
        let mut accepting = pin!(accept());
        let accepted = poll_fn(|cx| {
            if quitted.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            accepting.as_mut().poll(cx).map(Some)
        })
        .await;
        let (stream, peer) = match accepted {
            None => return Ok(()),
            Some(Ok(accepted)) => accepted,
            Some(Err(error)) if is_about_one_connection(&error) => continue,
            Some(Err(error)) => return Err(error),
        };
        let Ok(child) = quitter.child(peer_name(&peer)) else {
            return Ok(());
        };
        if serve(&child, stream).is_err() {
            return Ok(());
        }
    }
}

/// `peer`'s text (`127.0.0.1:50312`), an IPv4 one written by hand: the
/// formatting machinery costs a connection more than its child quitter
/// does (measured with callgrind).
fn peer_name(peer: &SocketAddr) -> String {
    let SocketAddr::V4(peer) = peer else {
        return peer.to_string();
    };
    let mut name = String::with_capacity(21);
    for (index, octet) in peer.ip().octets().into_iter().enumerate() {
        if index > 0 {
            name.push('.');
        }
        push_decimal(&mut name, u32::from(octet));
    }
    name.push(':');
    push_decimal(&mut name, u32::from(peer.port()));
    name
}

/// Appends `value` in decimal.
fn push_decimal(text: &mut String, value: u32) {
    if value >= 10 {
        push_decimal(text, value / 10);
    }
    text.push(char::from(b'0' + (value % 10) as u8));
}

fn is_about_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_names_read_as_socket_addresses_do() {
        for peer in [
            "127.0.0.1:50312",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.0.9.100:8080",
            "[::1]:443",
            "[fe80::1%2]:80",
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert_eq!(peer_name(&peer), peer.to_string());
        }
    }
}
