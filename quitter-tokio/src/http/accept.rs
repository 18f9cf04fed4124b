//! The accept loop: a connection at a time, each in a child quitter of its
//! own, until the quit.
//!
//! Invariants:
//! - the quit is looked at before each accept, and ends the loop at once:
//!   the listener is dropped with the loop (new connections are refused);
//!   draining changes nothing here (the lame duck keeps accepting);
//! - each connection is one task, named `connection`, of a child quitter
//!   named by its peer's address; if the quitter quit since (the child or
//!   the task is refused), the loop ends and that stream is closed;
//! - an accept error about one connection (reset, aborted, refused) is
//!   skipped; any other ends the loop with that error.

use std::io;
use std::sync::Arc;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;
use quitter_core::Quitter;
use tokio::net::TcpListener;

use super::connection;
use super::HttpService;

/// Accepts on `listener` until `quitter` quits, serving each connection
/// with a clone of `service`.
pub(super) async fn run<S: HttpService>(
    listener: TcpListener,
    quitter: Quitter,
    service: S,
) -> io::Result<()> {
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    loop {
        let accepted = tokio::select! {
            biased;
            () = quitter.quitted() => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_about_one_connection(&error) => continue,
            Err(error) => return Err(error),
        };
        // Small responses go out at once (no Nagle delay), as HTTP servers do.
        let _ = stream.set_nodelay(true);
        let Ok(child) = quitter.child(peer.to_string()) else {
            return Ok(());
        };
        let serving = connection::run(builder.clone(), stream, child.clone(), service.clone());
        if crate::spawn(&child, "connection", serving).is_err() {
            return Ok(());
        }
    }
}

fn is_about_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
