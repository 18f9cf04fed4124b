//! What the HTTP benches share: the servers they start (quitter's on
//! tokio and on smol, and the peers they are measured against: a bare
//! hyper-util server, and the same with hyper-util's own
//! `GracefulShutdown`, on tokio; a bare hyper-util server on smol) and the
//! service all of them serve.

use std::convert::Infallible;
use std::future::Future;
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
use smol_hyper::rt::FuturesIo;
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

/// Serves `handle` through `quitter_tokio::http::serve` on a new port,
/// tracked by `http`; returns the address.
pub async fn start_quitter(http: &Quitter) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    quitter_tokio::http::serve(listener, http, service_fn(handle)).expect("serve");
    addr
}

/// Serves `handle_smol` through `quitter_smol::http::serve` on a new
/// port, tracked by `http`; returns the address.
pub async fn start_quitter_smol(http: &Quitter) -> SocketAddr {
    let listener = smol::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    quitter_smol::http::serve(listener, http, service_fn(handle_smol))
        .expect("serve")
        .detach();
    addr
}

/// The smol peer: a bare hyper-util server on smol (its `auto` builder
/// over `smol-hyper`'s I/O, one `smol::spawn` per connection and per
/// HTTP/2 stream, on smol's global executor, no shutdown). What
/// `quitter_smol::http::serve` is measured against.
pub async fn start_bare_smol() -> SocketAddr {
    let listener = smol::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    smol::spawn(async move {
        let builder = std::sync::Arc::new(Builder::new(SmolExecutor));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            smol::spawn(async move {
                let connection = builder.serve_connection_with_upgrades(
                    FuturesIo::new(stream),
                    service_fn(handle_smol),
                );
                let _ = connection.await;
            })
            .detach();
        }
    })
    .detach();
    addr
}

/// hyper's executor for the smol peer's HTTP/2 streams: smol's global
/// executor, as `quitter_smol` uses.
#[derive(Clone, Copy)]
pub struct SmolExecutor;

impl<F> hyper::rt::Executor<F> for SmolExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

/// [`handle`] with smol's timer (for `/slow`).
pub async fn handle_smol(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let server = bench_server();
    Ok(respond(&request, server, async_io::Timer::after))
}

/// The quitter the services' `/ready` asks: one that never drains.
fn bench_server() -> &'static Quitter {
    static SERVER: OnceLock<Quitter> = OnceLock::new();
    SERVER.get_or_init(|| Quitter::new("bench"))
}

/// The service every server serves (`/ready` asks a quitter that never drains).
pub async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(respond(&request, bench_server(), tokio::time::sleep))
}
