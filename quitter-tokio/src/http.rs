//! Serving HTTP with a lossless shutdown (feature `hyper`): [`serve`].
//!
//! hyper 1 through hyper-util's `auto` connection builder: HTTP/1.1 and
//! HTTP/2 (prior knowledge, `h2c`) on one port, for any hyper
//! [`Service`](hyper::service::Service) or any tower `Service` (an axum
//! `Router`), see [`IntoHttpService`]. The connection handling is
//! [`quitter_hyper`]'s (shared with quitter-smol): read its docs for the
//! tree of quitters, what draining does (`Connection: close`, GOAWAY, the
//! listener keeps accepting), what the quit does (stop accepting, finish
//! the requests in flight, close idle connections) and what an abort at
//! a deadline does (force-close, each cut request reported). This module
//! brings tokio's listener, I/O, executor and spawn.
//!
//! # Example
//!
//! ```no_run
//! # async fn run(app: impl quitter_tokio::http::IntoHttpService<quitter_tokio::http::Tower>)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use quitter_tokio::{Quitter, Shutdown};
//!
//! let root = Quitter::new("main");
//! let shutdown = Shutdown::new(root.clone())
//!     .lame_duck(Duration::from_secs(5)) // draining: Connection: close, GOAWAY
//!     .timeout(Duration::from_secs(30))
//!     .signals()?;
//! let http = root.child("http")?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! quitter_tokio::http::serve(listener, &http, app)?; // an axum Router, a hyper service_fn, ...
//! shutdown.run().await.exit()
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;

use hyper_util::rt::{TokioExecutor, TokioIo};
use quitter_core::{AlreadyQuit, Quitter, Tracked};
use quitter_hyper::ServeRuntime;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::spawn::spawn_tracked;

pub use quitter_hyper::{HttpService, Hyper, IntoHttpService, ServeOptions, Tower};

/// Serves HTTP/1.1 and HTTP/2 on `listener` with `service`, as tasks of
/// `quitter`, until it quits (see [`quitter_hyper`] for what happens
/// while it drains, when it quits, and at a deadline that aborts).
///
/// Makes `quitter` [abortable](Quitter::make_abortable) (a deadline that
/// aborts closes the connections left), then spawns the accept loop as a
/// task of `quitter` named `accept <local address>` (at the caller's
/// location) and returns its handle. It ends with `Ok(())` on the quit, or
/// with the first accept error that is not about a single connection (a
/// reset or aborted connection is skipped), e.g. out of file descriptors:
/// then connections already accepted go on being served until the quit,
/// and the caller decides (awaiting the handle makes a good quit source).
///
/// `service` is cloned for each connection. Refused once `quitter` has
/// quit (nothing is spawned and `listener` is dropped).
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`].
#[track_caller]
pub fn serve<S, K>(
    listener: TcpListener,
    quitter: &Quitter,
    service: S,
) -> Result<JoinHandle<io::Result<()>>, AlreadyQuit>
where
    S: IntoHttpService<K>,
{
    serve_with(listener, quitter, service, ServeOptions::new())
}

/// [`serve`] with [`ServeOptions`]: e.g. the connection's quitter in each
/// request's extensions, for handlers that end long responses on the quit
/// (`ServeOptions::new().quitter_in_extensions(true)`).
///
/// # Errors
///
/// As [`serve`].
#[track_caller]
pub fn serve_with<S, K>(
    listener: TcpListener,
    quitter: &Quitter,
    service: S,
    options: ServeOptions,
) -> Result<JoinHandle<io::Result<()>>, AlreadyQuit>
where
    S: IntoHttpService<K>,
{
    let local = listener.local_addr();
    // Connections and requests are reported where `serve` was called.
    let location = Location::caller();
    let service = service.into_http_service();
    let accept_loop =
        quitter_hyper::serve_listener(Tokio, listener, local, quitter, service, options, location)?;
    Ok(spawn_tracked(quitter, accept_loop))
}

/// What tokio brings to [`quitter_hyper::serve_listener`]: its TCP
/// streams, their I/O, its executor for HTTP/2 streams, and its spawn.
struct Tokio;

impl ServeRuntime for Tokio {
    type Listener = TcpListener;
    type Stream = TcpStream;
    type Io = TokioIo<TcpStream>;
    type Executor = TokioExecutor;

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        // Small responses go out at once (no Nagle delay), as HTTP
        // servers do.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    fn executor(&self) -> TokioExecutor {
        TokioExecutor::new()
    }

    fn io(stream: TcpStream) -> TokioIo<TcpStream> {
        TokioIo::new(stream)
    }

    fn spawn_connection<F>(&self, quitter: &Quitter, connection: Tracked<F>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(spawn_tracked(quitter, connection));
    }
}
