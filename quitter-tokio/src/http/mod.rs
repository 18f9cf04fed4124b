//! Serving HTTP with a lossless shutdown (feature `hyper`): [`serve`].
//!
//! hyper 1 through hyper-util's `auto` connection builder: HTTP/1.1 and
//! HTTP/2 (prior knowledge, `h2c`) on one port, for any hyper
//! [`Service`](hyper::service::Service) or any tower `Service` (an axum
//! `Router`), see [`IntoHttpService`].
//!
//! ```text
//! http                       the quitter given to serve
//! ├── task "accept 0.0.0.0:8080"
//! ├── 127.0.0.1:50312        a child per connection, named by its peer
//! │   ├── task "connection"
//! │   └── task "GET /slow"   a request in flight (its age is the request's)
//! └── 127.0.0.1:50318
//!     └── task "connection"  an idle keep-alive connection
//! ```
//!
//! # Invariants
//!
//! Running:
//! - every accepted connection is a task of its own child quitter (named by
//!   the peer's address); every request in flight is a task of that child,
//!   named `METHOD /path` (no query), from the call of the service until
//!   its response head is ready (a streamed body is the connection's);
//! - the connection's quitter is in each request's extensions
//!   (`request.extensions().get::<Quitter>()`, axum's `Extension<Quitter>`),
//!   so a long response (SSE, long poll, a streamed body) can end itself on
//!   [`quitted()`](Quitter::quitted);
//! - no request is refused for tracking's sake: one that comes once its
//!   connection's quitter has quit (an HTTP/2 stream the client opened
//!   before it read the GOAWAY) is served, untracked.
//!
//! Draining (the lame duck, [`Quitter::start_draining`]): nothing is
//! refused or closed; clients are asked to move away:
//! - the listener keeps accepting, and every connection keeps serving;
//! - every HTTP/1 response carries `Connection: close` (hyper then closes
//!   the connection after it), except `101 Switching Protocols`;
//! - every HTTP/2 connection gets a GOAWAY (its `graceful_shutdown`): the
//!   streams it already has finish, the client opens new ones elsewhere;
//! - an idle HTTP/1 keep-alive connection is **not** closed: its client may
//!   be writing its next request at this very moment, and closing would
//!   lose it. It closes after its next response, or at the quit.
//!
//! The quit:
//! - the accept loop ends and drops the listener (new connections are
//!   refused by the OS); it is the only way the loop ends besides an
//!   accept error that is not about one connection (see [`serve`]);
//! - every connection gets `graceful_shutdown`: a request in flight is
//!   finished and then the connection closes; an idle one closes at once.
//!   The quitter is done once all have.
//!
//! Not here yet: a deadline that force-closes what is left (the timed
//! join names it; the process exits on time anyway).
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

mod accept;
mod connection;
mod kind;
mod protocol;
mod tracking;

use std::io;

use quitter_core::{AlreadyQuit, Quitter};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use kind::{HttpService, Hyper, IntoHttpService, Tower};

/// Serves HTTP/1.1 and HTTP/2 on `listener` with `service`, as tasks of
/// `quitter`, until it quits (see the [module](self) for what happens
/// while it drains and when it quits).
///
/// Spawns the accept loop as a task of `quitter` named
/// `accept <local address>` (at the caller's location) and returns its
/// handle. It ends with `Ok(())` on the quit, or with the first accept
/// error that is not about a single connection (a reset or aborted
/// connection is skipped), e.g. out of file descriptors: then connections
/// already accepted go on being served until the quit, and the caller
/// decides (awaiting the handle makes a good quit source).
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
    let name = match listener.local_addr() {
        Ok(address) => format!("accept {address}"),
        Err(_) => "accept".to_owned(),
    };
    let accept_loop = accept::run(listener, quitter.clone(), service.into_http_service());
    crate::spawn(quitter, name, accept_loop)
}
