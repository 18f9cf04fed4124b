//! An HTTP server that shuts down gracefully, on tokio and hyper 1: the
//! Rust take on go-quitter's HTTP example.
//!
//! ```text
//! cargo run --example tokio_http -- [--addr 127.0.0.1:8080] [--shutdown-timeout 5s] [--quit-timeout 10s]
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

use std::convert::Infallible;
use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use quitter_examples::{report_error, respond, Body, Config, SERVER_ERROR};
use quitter_tokio::{Quitter, Shutdown};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_args();

    // The main quitter and its quit sources. The signal handlers are
    // installed here, before the server listens, so no signal is missed.
    let root = Quitter::new("main");
    let (server_error_tx, server_error_rx) = oneshot::channel::<io::Error>();
    let shutdown = Shutdown::new(root.clone())
        .timeout(config.quit_timeout)
        .signals()? // "OS interrupt/termination signal"
        .source(SERVER_ERROR, async move {
            // Only an error sent is a quit event, not the sender going away.
            match server_error_rx.await {
                Ok(error) => error,
                Err(_) => std::future::pending().await,
            }
        });

    // Connections get their own child quitter, so the stop task can wait
    // for them alone.
    let connections = root.child("connections")?;
    let (force_close_tx, force_close_rx) = watch::channel(false);

    // As in the seed, stop is registered before start. (A fresh root has
    // not quit, so neither is refused.)
    let stop_task = stop(
        root.clone(),
        connections.clone(),
        config.shutdown_timeout,
        force_close_tx,
    );
    quitter_tokio::spawn(&root, "stop", stop_task)?;
    let start_task = start(
        root.clone(),
        connections,
        config.addr,
        server_error_tx,
        force_close_rx,
    );
    quitter_tokio::spawn(&root, "start", start_task)?;

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
    server_error: oneshot::Sender<io::Error>,
    force_close: watch::Receiver<bool>,
) {
    println!("Starting service");
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            let error = io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"));
            let _ = server_error.send(error);
            return;
        }
    };
    let local_addr = listener.local_addr().map_or(addr, |a| a.to_string());
    println!("Server listening on {local_addr}");

    loop {
        let (stream, peer) = tokio::select! {
            biased;
            // Stop accepting at once on quit.
            () = root.quitted() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    let _ = server_error.send(error);
                    break;
                }
            },
        };
        // Each connection is a task of `connections`, named by its peer
        // address; refused (and closed) once quitting.
        let task = serve(stream, peer, connections.clone(), force_close.clone());
        if quitter_tokio::spawn(&connections, peer.to_string(), task).is_err() {
            break;
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
    force_close: watch::Sender<bool>,
) {
    root.quitted().await;
    if let Some(cause) = root.cause() {
        println!("Quit cause: {cause}");
    }
    println!("Stopping service");

    match quitter_tokio::wait_done(&connections, shutdown_timeout).await {
        Ok(()) => println!("Stopped service successfully"),
        Err(still_open) => {
            println!(
                "Failed to stop service gracefully within {shutdown_timeout:?}: \
                 force-closing {} connection(s)",
                still_open.task_count()
            );
            print!("{still_open}");
            let _ = force_close.send(true);
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
    mut force_close: watch::Receiver<bool>,
) {
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle));
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        // The connection first: a request already in the socket is read
        // (the connection becomes busy, not idle) before the graceful
        // shutdown below, so it is served.
        biased;
        result = conn.as_mut() => return report_error(peer, result),
        () = connections.quitted() => conn.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        biased;
        result = conn.as_mut() => report_error(peer, result),
        _ = force_close.wait_for(|&closed| closed) => {}
    }
}

/// `GET /` and `GET /slow?ms=N` (routes shared with the other example).
async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(respond(&request, tokio::time::sleep))
}
