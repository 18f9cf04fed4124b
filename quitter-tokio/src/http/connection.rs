//! One connection: served by hyper-util's `auto` connection (HTTP/1.1 or
//! HTTP/2, with upgrades) and shut down by its quitter.
//!
//! Invariants (the quitter is the connection's own child; it drains and
//! quits with its parent):
//! - the connection is polled before the quitter is looked at, so bytes
//!   already in the socket are read (the connection becomes busy, not
//!   idle) before a shutdown decides anything;
//! - `graceful_shutdown` is called at most once: when the connection is
//!   known to be HTTP/2 and the quitter is draining (a GOAWAY; the quit
//!   then has nothing to add), or at the quit (HTTP/1: finish the request
//!   in flight, or close at once if idle; before the protocol is known:
//!   close);
//! - an HTTP/1 connection is never shut down while only draining (see
//!   [`super::tracking`] for its `Connection: close`);
//! - the task ends when hyper's connection future does (closed, upgraded,
//!   or failed: a failure is one connection's, and is not reported).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use quitter_core::Quitter;
use tokio::net::TcpStream;

use super::protocol::Sniffed;
use super::tracking::Tracking;
use super::HttpService;

/// Serves `stream` with `service` until it closes, shutting it down as
/// `quitter` drains and quits.
pub(super) async fn run<S: HttpService>(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    quitter: Quitter,
    service: S,
) {
    let (stream, protocol) = Sniffed::new(stream);
    let service = Tracking::new(service, quitter.clone());
    let mut connection =
        pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
    let mut quitted = pin!(quitter.quitted());
    let mut draining = pin!(quitter.draining());
    let mut shut_down = false;
    let _ = poll_fn(|cx| loop {
        if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
            return Poll::Ready(ended);
        }
        if shut_down {
            return Poll::Pending;
        }
        // `draining` is only waited for once the connection is HTTP/2;
        // before that, a poll of the connection (above) is what tells.
        let quit = quitted.as_mut().poll(cx).is_ready();
        let go_away = !quit && protocol.is_http2() && draining.as_mut().poll(cx).is_ready();
        if !(quit || go_away) {
            return Poll::Pending;
        }
        connection.as_mut().graceful_shutdown();
        shut_down = true; // and poll again: it has work to do now
    })
    .await;
}
