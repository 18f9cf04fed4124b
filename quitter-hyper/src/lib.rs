//! quitter's HTTP serving, runtime-free: hyper 1 connections tracked per
//! connection and per request, and drained losslessly. The runtime
//! adapters' `http::serve` (quitter-tokio and quitter-smol, feature
//! `hyper`) bring the listener, the I/O and the spawn (a
//! [`ServeRuntime`]) to [`serve_listener`]; everything they share is here,
//! so the two cannot drift apart.
//!
//! hyper-util's `auto` connection builder serves HTTP/1.1 and HTTP/2
//! (prior knowledge, `h2c`) on one port, for any hyper
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
//!   counted from the call of the service until hyper drops its response
//!   body (once it has taken the last frame, or on an error: a slow or
//!   streamed response is still the request in flight, with its age), and
//!   named `METHOD /path` (no query). A connection's later requests are
//!   rows of its task table, named from the call, their age from then.
//!   Its first request has a record of its own, named from its response's
//!   first poll, its age from then: if it is an HTTP/2 stream whose
//!   executor task has not run yet (say, every worker is stuck), it is
//!   only counted, as "task(s) not polled yet"; an HTTP/1 request's
//!   response is polled in the same pass as the call;
//! - handlers learn of the quit from the quitter given to `serve` (captured
//!   in the service: it drains and quits with every connection), or, with
//!   [`ServeOptions::quitter_in_extensions`], from the connection's quitter
//!   in each request's extensions (`request.extensions().get::<Quitter>()`,
//!   axum's `Extension<Quitter>`), so a long response (SSE, long poll, a
//!   streamed body) can end itself on
//!   [`quitted()`](quitter_core::Quitter::quitted);
//! - no request is refused for tracking's sake: one that comes once its
//!   connection's quitter has quit (an HTTP/2 stream the client opened
//!   before it read the GOAWAY) is served, tracked as a row if the
//!   connection has its table already (it holds the quitter), untracked
//!   if not.
//!
//! Draining (the lame duck, [`Quitter::start_draining`](quitter_core::Quitter::start_draining)): nothing is
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
//!   refused by the OS);
//! - every connection gets `graceful_shutdown`: a request in flight is
//!   finished and then the connection closes; an idle one closes at once.
//!   The quitter is done once all have.
//!
//! The deadline: the adapters' `serve` makes its quitter
//! [abortable](quitter_core::Quitter::make_abortable), so a deadline that aborts (a
//! stage that [aborts on overrun](quitter_core::Stage::abort_on_overrun),
//! `Shutdown::abort_on_timeout`) force-closes the connections left: each
//! is dropped (its socket closed) and reported as aborted, with the
//! request it cut (method, path, age). The report is then not clean
//! (exit code 1).

mod accept;
mod connection;
mod kind;
mod listener;
mod options;
mod protocol;
mod tracking;

pub use accept::accept_until_quit;
pub use connection::serve_connection;
pub use kind::{BoxError, HttpService, Hyper, IntoHttpService, Tower};
pub use listener::{serve_listener, ServeRuntime};
pub use options::ServeOptions;
pub use protocol::{Protocol, Sniffed};
pub use tracking::{TrackedBody, Tracking, TrackingResponse};
