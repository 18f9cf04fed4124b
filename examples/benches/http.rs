//! Throughput of `quitter_tokio::http::serve` against the same hyper-util
//! server without quitter (hyper-util's `auto` builder, one `tokio::spawn`
//! per connection: what a bare hyper-util server does), same service, on
//! tokio (2 workers), under a loopback load client. The variants run
//! interleaved (A, B, B, A, A, B, ...) to cancel drift; the table gives the
//! median requests per second of each and the ratio quitter / bare;
//! `spread` is the larger of the two variants' (max - min) / min over its
//! rounds, the noise to read the ratio against.
//!
//! ```text
//! cargo bench -p quitter-examples --bench http
//! QUITTER_BENCH_QUICK=1 cargo bench -p quitter-examples --bench http
//! ```
//!
//! Scenarios:
//! - HTTP/1 keep-alive: 4 connections, each sending `GET /` back to back;
//! - HTTP/1 churn: 4 loops, each opening a new connection per request
//!   (`Connection: close`), so one child quitter and one tracked task per
//!   request: the worst case;
//! - HTTP/2: 2 connections (prior knowledge), 8 streams in flight on each,
//!   through hyper's client.
//!
//! The HTTP/1 load client is a minimal one (write the request, read the
//! head and `content-length` bytes of body) on its own current-thread
//! runtime in its own thread; it counts `200` responses only. The machine
//! is shared: the numbers are noisy, the ratio less so.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use quitter_examples::{respond, Body};
use quitter_tokio::Quitter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Load connections (keep-alive) or loops (churn).
const CLIENTS: usize = 4;
/// HTTP/2: connections, and streams in flight on each.
const H2_CONNECTIONS: usize = 2;
const H2_STREAMS: usize = 8;

const KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n";
const CLOSE: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n";

#[derive(Clone, Copy)]
enum Scenario {
    KeepAlive,
    Churn,
    Http2,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::KeepAlive => "h1 keep-alive (4 conns)",
            Scenario::Churn => "h1 churn (1 req/conn)",
            Scenario::Http2 => "h2 (2 conns x 8 streams)",
        }
    }
}

fn main() {
    let quick = std::env::var_os("QUITTER_BENCH_QUICK").is_some();
    let (rounds, duration) = if quick {
        (3, Duration::from_millis(500))
    } else {
        (7, Duration::from_secs(2))
    };
    let started = Instant::now();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let root = Quitter::new("bench");
    let http = root.child("http").expect("a fresh root");
    let (bare, served) = runtime.block_on(async {
        let bare = start_bare().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let served = listener.local_addr().expect("local addr");
        quitter_tokio::http::serve(listener, &http, service_fn(handle)).expect("serve");
        (bare, served)
    });

    println!("http bench: {rounds} rounds x {duration:?} per variant, server on 2 workers");
    println!(
        "{:<26} {:>12} {:>14} {:>7} {:>7}",
        "scenario", "bare req/s", "quitter req/s", "ratio", "spread"
    );
    for scenario in [Scenario::KeepAlive, Scenario::Churn, Scenario::Http2] {
        // Warm-up, not counted.
        load(bare, scenario, duration / 4);
        load(served, scenario, duration / 4);
        let mut a = Vec::new();
        let mut b = Vec::new();
        // A, B, B, A, A, B, ...: neither variant always runs second.
        for round in 0..rounds {
            if round % 2 == 0 {
                a.push(load(bare, scenario, duration));
                b.push(load(served, scenario, duration));
            } else {
                b.push(load(served, scenario, duration));
                a.push(load(bare, scenario, duration));
            }
        }
        let spread = spread(&a).max(spread(&b));
        let (a, b) = (median(a), median(b));
        println!(
            "{:<26} {:>12.0} {:>14.0} {:>7.3} {:>6.1}%",
            scenario.name(),
            a,
            b,
            b / a,
            spread * 100.0
        );
    }

    // Clean shutdown: quit, wait for the served connections.
    root.quit();
    runtime.block_on(async {
        if let Err(report) = quitter_tokio::wait_done(&root, Duration::from_secs(5)).await {
            eprint!("not done after 5s:\n{report}");
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("total {:.1?}", started.elapsed());
}

/// The peer: a bare hyper-util server (its `auto` builder, HTTP/1 and
/// HTTP/2 on one port, one `tokio::spawn` per connection, no shutdown).
async fn start_bare() -> SocketAddr {
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

async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(respond(&request, tokio::time::sleep))
}

/// Runs the load client for `duration` in its own thread and runtime;
/// returns the `200` responses per second.
fn load(addr: SocketAddr, scenario: Scenario, duration: Duration) -> f64 {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        runtime.block_on(async move {
            let started = Instant::now();
            let deadline = started + duration;
            let clients: Vec<_> = match scenario {
                Scenario::KeepAlive => (0..CLIENTS)
                    .map(|_| tokio::spawn(keep_alive(addr, deadline)))
                    .collect(),
                Scenario::Churn => (0..CLIENTS)
                    .map(|_| tokio::spawn(churn(addr, deadline)))
                    .collect(),
                Scenario::Http2 => (0..H2_CONNECTIONS)
                    .map(|_| tokio::spawn(http2(addr, deadline)))
                    .collect(),
            };
            let mut ok = 0;
            for client in clients {
                ok += client.await.expect("client task");
            }
            ok as f64 / started.elapsed().as_secs_f64()
        })
    })
    .join()
    .expect("client thread")
}

async fn keep_alive(addr: SocketAddr, deadline: Instant) -> u64 {
    let mut ok = 0;
    let mut buf = Vec::with_capacity(4096);
    let Ok(mut stream) = connect(addr).await else {
        return 0;
    };
    while Instant::now() < deadline {
        match exchange(&mut stream, KEEP_ALIVE, &mut buf).await {
            Some(200) => ok += 1,
            Some(_) => {}
            None => break,
        }
    }
    ok
}

async fn churn(addr: SocketAddr, deadline: Instant) -> u64 {
    let mut ok = 0;
    let mut buf = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        let Ok(mut stream) = connect(addr).await else {
            continue;
        };
        buf.clear();
        if exchange(&mut stream, CLOSE, &mut buf).await == Some(200) {
            ok += 1;
        }
    }
    ok
}

/// One HTTP/2 connection with `H2_STREAMS` loops of `GET /` on it.
async fn http2(addr: SocketAddr, deadline: Instant) -> u64 {
    let Ok(stream) = connect(addr).await else {
        return 0;
    };
    let handshake =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream));
    let Ok((sender, connection)) = handshake.await else {
        return 0;
    };
    tokio::spawn(connection);
    let loops: Vec<_> = (0..H2_STREAMS)
        .map(|_| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                while Instant::now() < deadline {
                    let request = Request::get(format!("http://{addr}/"))
                        .body(Empty::<Bytes>::new())
                        .expect("request");
                    let Ok(response) = sender.send_request(request).await else {
                        break;
                    };
                    let status = response.status();
                    if response.into_body().collect().await.is_ok() && status == 200 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for one in loops {
        ok += one.await.unwrap_or(0);
    }
    ok
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes `request`, reads one response (head and `content-length` bytes
/// of body); returns its status, or `None` on an I/O or parse error.
async fn exchange(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> Option<u16> {
    stream.write_all(request).await.ok()?;
    loop {
        if let Some(head_end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..head_end]).ok()?;
            let status = head.get(9..12)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            let end = head_end + 4 + length;
            if buf.len() >= end {
                buf.drain(..end);
                return Some(status);
            }
        }
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// (max - min) / min of one variant's rounds: the noise to read the ratio
/// against.
fn spread(values: &[f64]) -> f64 {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    (max - min) / min
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
