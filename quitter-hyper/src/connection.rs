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
//!   [`crate::tracking`] for its `Connection: close`);
//! - the future ends when hyper's connection future does (closed,
//!   upgraded, or failed: a failure is one connection's, and is not
//!   reported). Dropped before that (an abort), it closes the connection.

use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::pin;
use std::task::{Poll, Waker};

use hyper::rt::{Read, Write};
use hyper_util::server::conn::auto::{Builder, HttpServerConnExec};
use quitter_core::Quitter;

use crate::protocol::Sniffed;
use crate::tracking::{TrackedBody, Tracking, TrackingResponse};
use crate::{HttpService, ServeOptions};

/// Serves `io` with `service` until it closes, shutting it down as
/// `quitter` (the connection's own) drains and quits: a GOAWAY on HTTP/2
/// once draining, `Connection: close` on HTTP/1 responses once draining,
/// and at the quit the request in flight is finished and the connection
/// closed. Each request is a task of `quitter`.
///
/// The runtime adapters spawn this as the task `connection` of a child
/// quitter named by the peer's address; `builder` is shared by the
/// connections of one listener. The requests' tasks are recorded at
/// `spawned_at` (the adapter's caller: where `serve` was called);
/// `options` as the caller gave them.
pub async fn serve_connection<I, S, E>(
    builder: &Builder<E>,
    io: I,
    quitter: Quitter,
    service: S,
    spawned_at: &'static Location<'static>,
    options: ServeOptions,
) where
    I: Read + Write + Unpin + Send + 'static,
    S: HttpService,
    E: HttpServerConnExec<TrackingResponse<S::Responding>, TrackedBody<S::ResBody>>,
{
    let (io, protocol) = Sniffed::new(io);
    let service = Tracking::new(service, quitter.clone(), spawned_at, options);
    // Boxed: hyper-util's connection is a few kilobytes, and this future is
    // moved on its way into its task (tracked, made abortable, spawned): a
    // pointer moves for free (measured with callgrind: the copies cost more
    // than the allocation).
    let mut connection = Box::pin(builder.serve_connection_with_upgrades(io, service));
    let mut quitted = pin!(quitter.quitted());
    let mut draining = pin!(quitter.draining());
    let mut shut_down = false;
    // The waker the two waits were last polled with: a wait polled again
    // with the same waker would only take its lock to find nothing to do,
    // so while the task's waker stays the same (it does, for a spawned
    // task), each poll of the connection reads the flags (one load each)
    // instead.
    let mut registered: Option<Waker> = None;
    let mut registered_http2 = false;
    let _ = poll_fn(|cx| loop {
        if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
            return Poll::Ready(ended);
        }
        if shut_down {
            return Poll::Pending;
        }
        let http2 = protocol.is_http2();
        let same_waker = registered.as_ref().is_some_and(|w| w.will_wake(cx.waker()))
            && registered_http2 == http2;
        if same_waker && !quitter.is_quitting() && !(http2 && quitter.is_draining()) {
            return Poll::Pending;
        }
        // `draining` is only waited for once the connection is HTTP/2;
        // before that, a poll of the connection (above) is what tells.
        let quit = quitted.as_mut().poll(cx).is_ready();
        let go_away = !quit && http2 && draining.as_mut().poll(cx).is_ready();
        if !same_waker {
            registered = Some(cx.waker().clone());
            registered_http2 = http2;
        }
        if !(quit || go_away) {
            return Poll::Pending;
        }
        connection.as_mut().graceful_shutdown();
        shut_down = true; // and poll again: it has work to do now
    })
    .await;
}
