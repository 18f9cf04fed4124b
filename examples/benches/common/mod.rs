//! What the HTTP benches share: the peers they are measured against (a
//! bare hyper-util server, and the same with hyper-util's own
//! `GracefulShutdown`) and the service all of them serve.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use quitter_examples::{respond, Body};
use quitter_tokio::Quitter;
use tokio::net::TcpListener;

/// The peer: a bare hyper-util server (its `auto` builder, HTTP/1 and
/// HTTP/2 on one port, one `tokio::spawn` per connection, no shutdown).
pub async fn start_bare() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let builder = std::sync::Arc::new(Builder::new(TokioExecutor::new()));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            tokio::spawn(async move {
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(handle));
                let _ = connection.await;
            });
        }
    });
    addr
}

/// The peer with hyper-util's own graceful shutdown: [`start_bare`]'s
/// server with each connection watched by a `GracefulShutdown` (never
/// triggered here: its cost while serving is what is measured). What a
/// hyper-util user writes for a drain without quitter.
pub async fn start_graceful() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let builder = std::sync::Arc::new(Builder::new(TokioExecutor::new()));
        let graceful = GracefulShutdown::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(handle));
                let _ = watcher.watch(connection).await;
            });
        }
    });
    addr
}

/// The service every server serves (`/ready` asks a quitter that never drains).
pub async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    static SERVER: OnceLock<Quitter> = OnceLock::new();
    let server = SERVER.get_or_init(|| Quitter::new("bench"));
    Ok(respond(&request, server, tokio::time::sleep))
}
