//! [`serve_listener`]: an adapter's `serve`, less its runtime. It is the
//! accept loop ([`accept_until_quit`]) with each connection served by
//! [`serve_connection`] as the task `connection` of its own child quitter,
//! tracked and ready to spawn. The adapter ([`ServeRuntime`]) brings the
//! listener's accept, the connections' I/O, hyper's executor for HTTP/2
//! streams, and the spawn.
//!
//! Invariants:
//! - `quitter` is made abortable before anything is tracked (a deadline
//!   that aborts force-closes the connections left);
//! - the accept loop, every connection and every request are recorded at
//!   `location`: where the user called the adapter's `serve`;
//! - refused once `quitter` has quit: nothing is tracked, and the listener
//!   is dropped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;
use std::sync::Arc;

use hyper::rt::{Read, Write};
use hyper_util::server::conn::auto::{Builder, HttpServerConnExec};
use quitter_core::{AlreadyQuit, Quitter, Tracked};

use crate::tracking::{TrackedBody, TrackingResponse};
use crate::{accept_until_quit, serve_connection, HttpService, ServeOptions};

/// What a runtime adapter brings to [`serve_listener`].
pub trait ServeRuntime: Send + 'static {
    /// The listener.
    type Listener: Send + Sync + 'static;
    /// An accepted connection, as the listener gives it.
    type Stream: Send + 'static;
    /// The connection's I/O, as hyper reads and writes it.
    type Io: Read + Write + Unpin + Send + 'static;
    /// hyper's executor, for HTTP/2 streams.
    type Executor: Clone + Send + Sync + 'static;

    /// The listener's next connection, with its peer's address (ready
    /// to serve: e.g. without Nagle's delay).
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send + '_;

    /// The executor for HTTP/2 streams.
    fn executor(&self) -> Self::Executor;

    /// Wraps an accepted connection for hyper.
    fn io(stream: Self::Stream) -> Self::Io;

    /// Spawns `connection`, a tracked task of `quitter` (the connection's
    /// own), detached, and abortable as the adapter's spawns are.
    fn spawn_connection<F>(&self, quitter: &Quitter, connection: Tracked<F>)
    where
        F: Future<Output = ()> + Send + 'static;
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` (its address `local`) with
/// `service`, as tasks of `quitter`, until it quits. Returns the accept
/// loop, tracked as the task `accept <local address>` of `quitter`, for
/// the adapter to spawn. See [the crate docs](crate) for what draining,
/// the quit and an abort do.
///
/// # Errors
///
/// [`AlreadyQuit`] once `quitter` has quit (nothing is tracked).
pub fn serve_listener<R, S>(
    runtime: R,
    listener: R::Listener,
    local: io::Result<SocketAddr>,
    quitter: &Quitter,
    service: S,
    options: ServeOptions,
    location: &'static Location<'static>,
) -> Result<Tracked<impl Future<Output = io::Result<()>> + Send + 'static>, AlreadyQuit>
where
    R: ServeRuntime,
    S: HttpService,
    R::Executor: HttpServerConnExec<TrackingResponse<S::Responding>, TrackedBody<S::ResBody>>,
{
    let name = match local {
        Ok(address) => format!("accept {address}"),
        Err(_) => "accept".to_owned(),
    };
    quitter.make_abortable();
    let builder = Arc::new(Builder::new(runtime.executor()));
    let connections = quitter.clone();
    let accept_loop = async move {
        let accept = || R::accept(&listener);
        let serve = move |connection: &Quitter, stream: R::Stream| {
            let builder = builder.clone();
            let (quitter, service) = (connection.clone(), service.clone());
            let serving = async move {
                let io = R::io(stream);
                serve_connection(&builder, io, quitter, service, location, options).await;
            };
            let tracked = connection.track_future_at("connection", serving, location)?;
            runtime.spawn_connection(connection, tracked);
            Ok(())
        };
        accept_until_quit(&connections, accept, serve).await
    };
    quitter.track_future_at(name, accept_loop, location)
}
