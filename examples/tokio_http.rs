//! An HTTP server that shuts down gracefully and loses no request, on
//! tokio and hyper 1: the Rust take on go-quitter's HTTP example.
//!
//! ```text
//! cargo run --example tokio_http -- [--addr 127.0.0.1:8080] [--lame-duck 0s] [--shutdown-timeout 5s] [--quit-timeout 10s]
//! curl localhost:8080/             # Hello world!
//! curl localhost:8080/ready        # ready (503 draining, during the lame duck)
//! curl 'localhost:8080/slow?ms=3000' & sleep 1; kill -TERM <pid>   # the slow request still completes
//! ```
//!
//! The quit tree:
//!
//! ```text
//! main                       quit sources: "OS interrupt/termination signal", "HTTP server error"
//! ├── task "log"             says when the lame duck and the stop begin
//! └── http                   a stage with a budget (--shutdown-timeout), aborted when it overruns
//!     ├── task "accept 127.0.0.1:8080"
//!     └── 127.0.0.1:50312    one child per connection: task "connection", and "GET /slow" in flight
//! ```
//!
//! On SIGTERM: the lame duck first (`/ready` says 503 so a load balancer
//! moves away; everything is still served, with `Connection: close`),
//! then the quit (stop accepting, finish the requests in flight, close
//! idle connections). Whatever is still running at the drain deadline is
//! force-closed and named in the report, and the exit code is 1.

use std::convert::Infallible;
use std::error::Error;
use std::future::{pending, ready};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use quitter_examples::{
    cannot_listen, respond, say_listening, say_when_stopping, Body, Config, SERVER_ERROR,
};
use quitter_tokio::{Quitter, Shutdown, Stage};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_args();

    // The main quitter and its quit sources. The signal handlers are
    // installed here, before the server listens, so no signal is missed.
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .lame_duck(config.lame_duck) // draining first: /ready says 503
        .timeout(config.quit_timeout)
        .signals()? // "OS interrupt/termination signal"
        .dump_tree_on_signal()? // SIGUSR1 prints the live tree (`kill -USR1 <pid>`)
        .systemd(); // under systemd: READY=1, STOPPING=1, STATUS=, EXTEND_TIMEOUT_USEC=

    // The connections' quitter. Its budget is the drain deadline: what is
    // left then is aborted (closed, and reported), not waited for.
    let http_stage = Stage::FIRST
        .budget(config.shutdown_timeout)
        .abort_on_overrun();
    let http = root.child_in("http", http_stage)?;
    quitter_tokio::spawn(&root, "log", say_when_stopping(root.clone()))?;

    println!("Starting service");
    // systemd's socket if it passed one (socket activation), else bound here.
    let shutdown = match quitter_tokio::systemd::tcp_listener(&config.addr) {
        Ok((listener, origin)) => {
            say_listening(listener.local_addr()?, origin);
            // `/ready` asks `http`: it drains with every connection.
            let server = http.clone();
            let service = service_fn(move |request| handle(request, server.clone()));
            let accept = quitter_tokio::http::serve(listener, &http, service)?;
            // The accept loop ends with an error only if accepting fails
            // for good (out of file descriptors, say): a quit source.
            shutdown.source(SERVER_ERROR, async move {
                match accept.await {
                    Ok(Err(error)) => error,
                    _ => pending().await,
                }
            })
        }
        // Not listening is a failure: the quit cause, and exit code 1.
        Err(error) => {
            let error = cannot_listen(&config.addr, error.into());
            shutdown.source(SERVER_ERROR, ready(error))
        }
    };

    // Wait for a quit source, drain, quit, wait for the tree, report.
    // Exit code 0: every task returned; 1: a failure caused the quit, or a
    // task hung, panicked or was cut; 130: a second signal cut it short.
    shutdown.run().await.exit()
}

/// `GET /`, `GET /slow?ms=N` and `GET /ready` (routes shared with the
/// other examples).
async fn handle(request: Request<Incoming>, server: Quitter) -> Result<Response<Body>, Infallible> {
    Ok(respond(&request, &server, tokio::time::sleep))
}
