//! An HTTP server that shuts down gracefully, on smol and hyper 1: the
//! Rust take on go-quitter's HTTP example. It behaves (flags, routes,
//! output, exit codes) exactly like `tokio_http`.
//!
//! ```text
//! cargo run --example smol_http -- [--addr 127.0.0.1:8080] [--shutdown-timeout 5s] [--quit-timeout 10s]
//! curl localhost:8080/             # Hello world!
//! curl 'localhost:8080/slow?ms=3000' & sleep 1; kill -INT <pid>   # the slow request still completes
//! ```
//!
//! The quit tree:
//!
//! ```text
//! main                 quit sources: "OS interrupt/termination signal", "HTTP server error"
//! ├── task "stop"      waits for the quit, drains the connections, force-closes the rest
//! ├── task "start"     binds, accepts until the quit, spawns one task per connection
//! └── connections      child quitter: one task per connection, named by peer address
//! ```
//!
//! hyper's I/O traits come from `smol-hyper` (`FuturesIo` over smol's
//! `TcpStream`); the tasks run on smol's global executor.

use std::convert::Infallible;
use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use futures_lite::future;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use quitter_examples::{report_error, respond, Body, Config, SERVER_ERROR};
use quitter_smol::{Quitter, Shutdown};
use smol::channel::{self, Receiver, Sender};
use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::FuturesIo;

fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_args();
    smol::block_on(run(config))
}

async fn run(config: Config) -> Result<(), Box<dyn Error>> {
    // The main quitter and its quit sources. The signal handlers are
    // installed here, before the server listens, so no signal is missed.
    let root = Quitter::new("main");
    let (server_error_tx, server_error_rx) = channel::bounded::<io::Error>(1);
    let shutdown = Shutdown::new(root.clone())
        .timeout(config.quit_timeout)
        .signals()? // "OS interrupt/termination signal"
        .source(SERVER_ERROR, async move {
            // Only an error sent is a quit event, not the sender going away.
            match server_error_rx.recv().await {
                Ok(error) => error,
                Err(_) => std::future::pending().await,
            }
        });

    // Connections get their own child quitter, so the stop task can wait
    // for them alone.
    let connections = root.child("connections")?;
    // Closed by the stop task to force-close the connections still open.
    let (force_close_tx, force_close_rx) = channel::bounded::<()>(1);

    // As in the seed, stop is registered before start. (A fresh root has
    // not quit, so neither is refused.) Detached: dropping a smol `Task`
    // would cancel it; the quitter still tracks it.
    let stop_task = stop(
        root.clone(),
        connections.clone(),
        config.shutdown_timeout,
        force_close_tx,
    );
    quitter_smol::spawn(&root, "stop", stop_task)?.detach();
    let start_task = start(
        root.clone(),
        connections,
        config.addr,
        server_error_tx,
        force_close_rx,
    );
    quitter_smol::spawn(&root, "start", start_task)?.detach();

    // Wait for a quit source, quit, wait for the tree, report.
    let report = shutdown.run().await;
    print!("{report}");
    // 0: every task returned; 1: some did not, one panicked, or a server
    // error (a failure) caused the quit; 130: a second signal cut it short.
    std::process::exit(report.exit_code().into())
}

/// The start task: binds, then accepts connections until the quit. A bind
/// or accept failure is sent to the "HTTP server error" quit source.
async fn start(
    root: Quitter,
    connections: Quitter,
    addr: String,
    server_error: Sender<io::Error>,
    force_close: Receiver<()>,
) {
    println!("Starting service");
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            let error = io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"));
            let _ = server_error.try_send(error);
            return;
        }
    };
    let local_addr = listener.local_addr().map_or(addr, |a| a.to_string());
    println!("Server listening on {local_addr}");

    loop {
        // Stop accepting at once on quit (the quit is checked first).
        let (stream, peer) = match root.run_until_quit(listener.accept()).await {
            None => break,
            Some(Ok(accepted)) => accepted,
            Some(Err(error)) => {
                let _ = server_error.try_send(error);
                break;
            }
        };
        // Each connection is a task of `connections`, named by its peer
        // address; refused (and closed) once quitting.
        let task = serve(stream, peer, connections.clone(), force_close.clone());
        match quitter_smol::spawn(&connections, peer.to_string(), task) {
            Ok(task) => task.detach(),
            Err(_) => break,
        }
    }
    // The listener is dropped here: new connections are refused.
}

/// The stop task: waits for the quit, lets the connections finish their
/// requests for up to `shutdown_timeout`, then force-closes the rest.
async fn stop(
    root: Quitter,
    connections: Quitter,
    shutdown_timeout: Duration,
    force_close: Sender<()>,
) {
    root.quitted().await;
    if let Some(cause) = root.cause() {
        println!("Quit cause: {cause}");
    }
    println!("Stopping service");

    match quitter_smol::wait_done(&connections, shutdown_timeout).await {
        Ok(()) => println!("Stopped service successfully"),
        Err(still_open) => {
            println!(
                "Failed to stop service gracefully within {shutdown_timeout:?}: \
                 force-closing {} connection(s)",
                still_open.task_count()
            );
            print!("{still_open}");
            // Closing the channel wakes every connection's `recv()`.
            force_close.close();
        }
    }
}

/// One connection: serves its requests; on quit, finishes the request in
/// flight and closes (a keep-alive connection closes after its current
/// response); on force-close, drops the connection, which closes it.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    connections: Quitter,
    force_close: Receiver<()>,
) {
    let conn = http1::Builder::new().serve_connection(FuturesIo::new(stream), service_fn(handle));
    let mut conn = pin!(conn);
    // `future::or` polls its first future first: the connection, so a
    // request that arrived before the quit is read (the connection is busy,
    // not idle) before the graceful shutdown below, and is served.
    let served = future::or(async { Some(conn.as_mut().await) }, async {
        connections.quitted().await;
        None
    })
    .await;
    if let Some(result) = served {
        return report_error(peer, result);
    }
    conn.as_mut().graceful_shutdown();
    future::or(async { report_error(peer, conn.as_mut().await) }, async {
        let _ = force_close.recv().await; // an error: the channel closed
    })
    .await;
}

/// `GET /` and `GET /slow?ms=N` (routes shared with the other example).
async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(respond(&request, async_io::Timer::after))
}
