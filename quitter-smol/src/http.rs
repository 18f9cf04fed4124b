//! Serving HTTP with a lossless shutdown (feature `hyper`): [`serve`].
//!
//! hyper 1 through hyper-util's `auto` connection builder: HTTP/1.1 and
//! HTTP/2 (prior knowledge, `h2c`) on one port, for any hyper
//! [`Service`](hyper::service::Service) or any tower `Service`, see
//! [`IntoHttpService`]. The connection handling is [`quitter_hyper`]'s
//! (shared with quitter-tokio): read its docs for the tree of quitters,
//! what draining does (`Connection: close`, GOAWAY, the listener keeps
//! accepting), what the quit does (stop accepting, finish the requests in
//! flight, close idle connections) and what an abort at a deadline does
//! (force-close, each cut request reported). This module brings smol's
//! listener, I/O (through `smol-hyper`), and spawn: the connections and
//! HTTP/2's streams run on smol's global executor.
//!
//! # Example
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hyper::{service::service_fn, Response};
//! use quitter_smol::{Quitter, Shutdown};
//!
//! smol::block_on(async {
//!     let root = Quitter::new("main");
//!     let shutdown = Shutdown::new(root.clone())
//!         .lame_duck(Duration::from_secs(5)) // draining: Connection: close, GOAWAY
//!         .timeout(Duration::from_secs(30))
//!         .signals()?;
//!     let http = root.child("http")?;
//!     let listener = smol::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     let hello = service_fn(|_request| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("Hello world!\n")))
//!     });
//!     quitter_smol::http::serve(listener, &http, hello)?.detach();
//!     shutdown.run().await.exit()
//! })
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;

use quitter_core::{AlreadyQuit, Quitter, Tracked};
use quitter_hyper::ServeRuntime;
use smol::net::{TcpListener, TcpStream};
use smol::Task;
use smol_hyper::rt::FuturesIo;

use crate::spawn::abortable_if;

pub use quitter_hyper::{HttpService, Hyper, IntoHttpService, ServeOptions, Tower};

/// Serves HTTP/1.1 and HTTP/2 on `listener` with `service`, as tasks of
/// `quitter`, until it quits (see [`quitter_hyper`] for what happens
/// while it drains, when it quits, and at a deadline that aborts).
///
/// Makes `quitter` [abortable](Quitter::make_abortable) (a deadline that
/// aborts closes the connections left), then spawns the accept loop on
/// smol's global executor as a task of `quitter` named
/// `accept <local address>` (at the caller's location) and returns it
/// (`detach` it, or await it: it makes a good quit source). It ends with
/// `Ok(())` on the quit, or with the first accept error that is not about
/// a single connection (a reset or aborted connection is skipped), e.g.
/// out of file descriptors: then connections already accepted go on being
/// served until the quit, and the caller decides.
///
/// `service` is cloned for each connection. Refused once `quitter` has
/// quit (nothing is spawned and `listener` is dropped).
#[track_caller]
pub fn serve<S, K>(
    listener: TcpListener,
    quitter: &Quitter,
    service: S,
) -> Result<Task<io::Result<()>>, AlreadyQuit>
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
) -> Result<Task<io::Result<()>>, AlreadyQuit>
where
    S: IntoHttpService<K>,
{
    let local = listener.local_addr();
    // Connections and requests are reported where `serve` was called.
    let location = Location::caller();
    let service = service.into_http_service();
    let accept_loop =
        quitter_hyper::serve_listener(Smol, listener, local, quitter, service, options, location)?;
    Ok(smol::spawn(abortable_if(quitter, accept_loop)))
}

/// What smol brings to [`quitter_hyper::serve_listener`]: its TCP streams,
/// their I/O (through `smol-hyper`), and its global executor, for the
/// connections and HTTP/2's streams.
struct Smol;

impl ServeRuntime for Smol {
    type Listener = TcpListener;
    type Stream = TcpStream;
    type Io = FuturesIo<TcpStream>;
    type Executor = GlobalExecutor;

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        // Small responses go out at once (no Nagle delay), as HTTP
        // servers do.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    fn executor(&self) -> GlobalExecutor {
        GlobalExecutor
    }

    fn io(stream: TcpStream) -> FuturesIo<TcpStream> {
        FuturesIo::new(stream)
    }

    fn spawn_connection<F>(&self, quitter: &Quitter, connection: Tracked<F>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol::spawn(abortable_if(quitter, connection)).detach();
    }
}

/// hyper's executor for HTTP/2 streams: smol's global executor, like
/// [`spawn`](crate::spawn) (a stream is part of its connection's task:
/// not tracked apart).
#[derive(Clone, Copy, Debug)]
struct GlobalExecutor;

impl<F> hyper::rt::Executor<F> for GlobalExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}
